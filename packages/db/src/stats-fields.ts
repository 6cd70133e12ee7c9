// The names of a sweep's quantities: the summary fields a run stores (with the column
// holding each, when there is one, and its human-facing label), and the lookups that
// turn a name a person typed into a field or an axis variable, with a suggestion when
// it is a typo. Pure: no SQL here.
import { StatsQueryError } from './stats-error.ts';

//
// One name per quantity: `summary.<path in the stored summary>` is the stats metric, the
// filter field, the plot value, the CSV column and the dashboard choice. Every lookup
// goes through a Map (never a plain object), so a name such as `constructor` or
// `__proto__` is unknown like any other typo instead of finding Object.prototype.

type Kind = 'number' | 'boolean';

/** A known field of the stored summary (section 5 of the model contract). */
export interface SummaryField {
  /** As the caller wrote it, e.g. `summary.basinShare.0`. */
  name: string;
  /** Path inside results.summary, e.g. ['basinShare', '0']. */
  path: string[];
  kind: Kind;
  /** The real column of results holding the same value, when there is one. */
  column: string | null;
  /** Human-facing label; a per-reward quantity names its reward (index 0 is reward 1). */
  label: string;
}

type Node =
  | { t: 'leaf'; kind: Kind; label: string }
  /** Per reward (index i belongs to rewards[i]); `len` bounds the index (audit: m = 2). */
  | { t: 'perReward'; kind: Kind; label: string; len?: number }
  /** The two ends of an interval on reward 1's share. */
  | { t: 'ends'; label: string }
  /** utilities[i][j] = u_{i+1}(P_{j+1}) of Theorem 3.7. */
  | { t: 'utilities'; label: string }
  | { t: 'obj'; children: Map<string, Node> };

const leaf = (kind: Kind, label: string): Node => ({ t: 'leaf', kind, label });
const perReward = (kind: Kind, label: string, len?: number): Node => ({ t: 'perReward', kind, label, len });
const obj = (entries: [string, Node][]): Node => ({ t: 'obj', children: new Map(entries) });

const FINAL = obj([
  ['t', leaf('number', 'final generation')],
  ['entropy', leaf('number', 'final entropy')],
  ['effectiveSupport', leaf('number', 'final effective support')],
  ['outside', leaf('number', 'final mass outside every basin')],
  ['step', leaf('number', 'final step (total variation)')],
  ['shareStep', leaf('number', 'final share step')],
  ['mass', perReward('number', 'final basin mass')],
  ['meanReward', perReward('number', 'final mean reward')],
  ['varReward', perReward('number', 'final reward variance')],
]);

const AUDIT = obj([
  ['disjoint', leaf('boolean', 'audit: basins disjoint')],
  ['initMass', perReward('number', 'audit: initial basin mass', 2)],
  ['crossGap', perReward('number', 'audit: cross gap', 2)],
  ['gapsExceed2eps', perReward('boolean', 'audit: gap exceeds 2 eps', 2)],
  ['outsideGap', leaf('number', 'audit: outside gap')],
  ['leakage', perReward('number', 'audit: leakage', 2)],
  ['inWindow', leaf('boolean', 'audit: q in window')],
  ['interval', { t: 'ends', label: 'audit: Lemma 3.5 interval of the reward 1 share' }],
  ['intervalB5', { t: 'ends', label: 'audit: B.5 interval of the reward 1 share' }],
  ['intervalCorrected', { t: 'ends', label: 'audit: corrected interval of the reward 1 share' }],
  ['outsideDomination', leaf('number', 'audit: outside domination (B.4)')],
  ['largeK', leaf('boolean', 'audit: K = inf')],
  ['applies', leaf('boolean', 'audit: lemma applies')],
  ['inInterval', leaf('boolean', 'audit: reward 1 share in Lemma 3.5 interval')],
  ['inIntervalB5', leaf('boolean', 'audit: reward 1 share in B.5 interval')],
  ['inIntervalCorrected', leaf('boolean', 'audit: reward 1 share in corrected interval')],
  ['varianceBound', perReward('number', 'audit: variance bound', 2)],
  ['varianceSlack', perReward('number', 'audit: variance slack', 2)],
  ['nash', obj([
    ['premise', leaf('boolean', 'audit: Nash premise')],
    ['gains', perReward('number', 'audit: Nash gain', 2)],
    ['utilities', { t: 'utilities', label: 'audit: Nash utility' }],
  ])],
]);

const SUMMARY = obj([
  ['converged', leaf('boolean', 'converged')],
  ['convergedAt', leaf('number', 'converged at (generation)')],
  ['collapsed', leaf('boolean', 'collapsed')],
  ['survivingBasins', leaf('number', 'surviving basins')],
  ['nashGap', leaf('number', 'Nash gap')],
  ['outsideDecayRate', leaf('number', 'outside mass decay rate')],
  ['basinShare', perReward('number', 'basin share')],
  ['final', FINAL],
  ['audit', AUDIT],
]);

const INDEX_RE = /^(0|[1-9][0-9]{0,3})$/;
const ENDS = ['lower end', 'upper end'];
const rewardLabel = (label: string, i: number) => `${label} (reward ${i + 1})`;

/** Summary paths stored in their own columns of `results` (packages/db/src/results.ts). */
const COLUMNS = new Map<string, string>([
  ['converged', 'converged'],
  ['convergedAt', 'converged_at'],
  ['collapsed', 'collapsed'],
  ['nashGap', 'nash_gap'],
  ['basinShare.0', 'basin_share0'],
  ['survivingBasins', 'surviving_basins'],
  ['outsideDecayRate', 'outside_decay_rate'],
  ['final.entropy', 'final_entropy'],
  ['final.outside', 'final_outside'],
  ['audit.applies', 'audit_applies'],
  ['audit.inInterval', 'in_interval'],
  ['audit.inIntervalB5', 'in_interval_b5'],
  ['audit.inIntervalCorrected', 'in_interval_corrected'],
  ['audit.outsideDomination', 'outside_domination'],
]);

export const SUMMARY_FIELD_HELP =
  'summary.converged, summary.convergedAt, summary.collapsed, summary.survivingBasins, summary.nashGap, summary.outsideDecayRate, ' +
  'summary.basinShare.<i>, summary.final.<t|entropy|effectiveSupport|outside|step|shareStep>, summary.final.<mass|meanReward|varReward>.<i>, ' +
  'summary.audit.<disjoint|inWindow|largeK|applies|inInterval|inIntervalB5|inIntervalCorrected|outsideGap|outsideDomination>, ' +
  'summary.audit.<initMass|crossGap|gapsExceed2eps|leakage|varianceBound|varianceSlack>.<0|1>, ' +
  'summary.audit.<interval|intervalB5|intervalCorrected>.<0|1>, summary.audit.nash.premise, summary.audit.nash.gains.<0|1>, ' +
  'summary.audit.nash.utilities.<0|1>.<0|1> (index i of a per-reward field is reward i+1)';

/** The summary field named `name` (`summary.<path>`), or null when it is not one. */
export function parseSummaryField(name: string): SummaryField | null {
  if (typeof name !== 'string' || !name.startsWith('summary.')) return null;
  const path = name.slice('summary.'.length).split('.');
  let node: Node = SUMMARY;
  let i = 0;
  for (; i < path.length && node.t === 'obj'; i++) {
    const next = node.children.get(path[i]);
    if (!next) return null;
    node = next;
  }
  const rest = path.slice(i);
  const index = (x: string, len?: number) => INDEX_RE.test(x) && (len === undefined || Number(x) < len);
  let kind: Kind;
  let label: string;
  switch (node.t) {
    case 'obj':
      return null;
    case 'leaf':
      if (rest.length !== 0) return null;
      ({ kind, label } = node);
      break;
    case 'perReward':
      if (rest.length !== 1 || !index(rest[0], node.len)) return null;
      kind = node.kind;
      label = rewardLabel(node.label, Number(rest[0]));
      break;
    case 'ends':
      if (rest.length !== 1 || !index(rest[0], 2)) return null;
      kind = 'number';
      label = `${node.label}, ${ENDS[Number(rest[0])]}`;
      break;
    case 'utilities':
      if (rest.length !== 2 || !index(rest[0], 2) || !index(rest[1], 2)) return null;
      kind = 'number';
      label = `${node.label} of reward ${Number(rest[0]) + 1} on the basin of reward ${Number(rest[1]) + 1}`;
      break;
  }
  return { name, path, kind, column: COLUMNS.get(path.join('.')) ?? null, label };
}

/** Every summary field of a run with `m` rewards (the audit only for m = 2), in export order. */
export function summaryFields(m: number): SummaryField[] {
  const names: string[] = [];
  const walk = (node: Node, prefix: string) => {
    switch (node.t) {
      case 'obj':
        if (prefix === 'summary.audit' && m !== 2) return;
        for (const [k, child] of node.children) walk(child, `${prefix}.${k}`);
        return;
      case 'leaf':
        names.push(prefix);
        return;
      case 'perReward':
        for (let i = 0; i < (node.len ?? m); i++) names.push(`${prefix}.${i}`);
        return;
      case 'ends':
        names.push(`${prefix}.0`, `${prefix}.1`);
        return;
      case 'utilities':
        for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) names.push(`${prefix}.${i}.${j}`);
    }
  };
  walk(SUMMARY, 'summary');
  return names.map((n) => parseSummaryField(n)!);
}

/** A field's human-facing label (summary fields and derived names), or the name itself. */
export function fieldLabel(name: string): string {
  return parseSummaryField(name)?.label ?? name;
}

// ------------------------------------------------------------------ names and suggestions

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 8) return Infinity;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** The candidate closest to `name` when it is close enough to be a typo of it, else null. */
export function suggestName(name: string, candidates: readonly string[]): string | null {
  if (!name.startsWith('summary.') && parseSummaryField(`summary.${name}`)) return `summary.${name}`;
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(name.length / 6)) ? best : null;
}

const ALL_NAMES = summaryFields(2).map((f) => f.name);

/** ` (did you mean "x"?)` for the variable or summary field closest to `name`, or ''. */
export const didYouMean = (name: string, extra: readonly string[] = []): string => {
  const s = suggestName(name, [...extra, ...ALL_NAMES]);
  return s ? ` (did you mean ${JSON.stringify(s)}?)` : '';
};

/**
 * The axis variable `name` stands for: the name itself, or `params.<name>` (the spelling
 * of a CSV column whose name would clash with a fixed column). Null when it is neither.
 */
export function resolveVariable(name: string, variables: readonly string[]): string | null {
  if (variables.includes(name)) return name;
  if (name.startsWith('params.') && variables.includes(name.slice('params.'.length))) return name.slice('params.'.length);
  return null;
}

/** The variable for parameter `param`, or a StatsQueryError naming the parameter. */
export function requireVariable(name: string, variables: readonly string[], param: string): string {
  const v = resolveVariable(name, variables);
  if (v !== null) return v;
  const s = suggestName(name, variables);
  throw new StatsQueryError(
    `unknown ${param === 'groupBy' ? 'groupBy ' : ''}variable ${JSON.stringify(name)}${s ? ` (did you mean ${JSON.stringify(s)}?)` : ''}: ` +
      `this sweep's axis variables are ${variables.length ? variables.join(', ') : '(none)'}`,
    param,
  );
}

/** The summary field for parameter `param` (a metric, a plot value), or a StatsQueryError. */
export function requireMetric(name: string, param = 'metrics'): SummaryField {
  const f = parseSummaryField(name);
  if (!f) throw new StatsQueryError(`unknown metric ${JSON.stringify(name)}${didYouMean(name)}: not a summary field; use one of ${SUMMARY_FIELD_HELP}`, param);
  return f;
}
