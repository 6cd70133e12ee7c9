// Aggregates over a sweep's results, computed in Postgres: one parameterised statement per
// request, never the runs loaded into Node. User input never reaches the SQL text: field
// names are checked against a whitelist (summary fields) or the sweep's own axis
// variables, and travel as parameters (jsonb keys, text[] paths, values).
//
//   sweepStats   GET /v1/sweeps/:id/stats  group the succeeded runs by axis variables
//   sweepsByTag  GET /v1/stats?tag=        one line per sweep carrying a tag
import type pg from 'pg';
import { ALL_SWEEPS, teamCondition, visibleTeam, type Visibility } from './sweeps.ts';

type Queryable = Pick<pg.Pool, 'query'>;

/**
 * A request the caller got wrong (unknown variable or metric, malformed filter): a 400.
 * `param` names the request parameter (metrics, where, groupBy, x, ...), and the
 * message starts with it.
 */
export class StatsQueryError extends Error {
  readonly param: string | null;
  readonly reason: string;
  constructor(reason: string, param: string | null = null) {
    super(param ? `${param}: ${reason}` : reason);
    this.name = 'StatsQueryError';
    this.param = param;
    this.reason = reason;
  }
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (s: string): boolean => UUID_RE.test(s);

// ------------------------------------------------------------------ summary fields
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
const didYouMean = (name: string, extra: readonly string[] = []) => {
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

// ------------------------------------------------------------------ where filters

export const FILTER_OPS = ['=', '!=', '<', '<=', '>', '>='] as const;
export type FilterOp = (typeof FILTER_OPS)[number];

export interface Filter {
  /** An axis variable (`q`) or a summary field (`summary.collapsed`). */
  field: string;
  op: FilterOp;
  value: number | boolean | string | null;
}

const CLAUSE_RE = /^\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*(<=|>=|!=|<>|==|=|<|>)\s*(.*?)\s*$/s;
const NUMBER_RE = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const BARE_RE = /^[^\s"'<>=!;]+$/;

/** Splits on `;` outside quotes. */
function splitClauses(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  for (const ch of text) {
    if (quote) {
      cur += ch;
      if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      cur += ch;
    } else if (ch === ';') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function parseValue(raw: string): Filter['value'] | undefined {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (raw === 'null') return null;
  if (NUMBER_RE.test(raw)) {
    const n = Number(raw);
    return Number.isFinite(n) ? n : undefined;
  }
  if (raw.length >= 2 && (raw[0] === '"' || raw[0] === "'") && raw[raw.length - 1] === raw[0]) {
    const inner = raw.slice(1, -1);
    return inner.includes(raw[0]) ? undefined : inner;
  }
  return BARE_RE.test(raw) ? raw : undefined;
}

/**
 * Parses `q>=0.3;summary.collapsed=false;D!=2` (one string or several, e.g. repeated
 * `where` params). Values: numbers, true/false, null, "quoted" or bare strings.
 * Throws StatsQueryError naming the offending clause.
 */
export function parseWhere(input: string | string[] | undefined | null): Filter[] {
  if (input === undefined || input === null) return [];
  const texts = Array.isArray(input) ? input : [input];
  const filters: Filter[] = [];
  for (const text of texts) {
    for (const clause of splitClauses(text)) {
      if (clause.trim() === '') continue;
      const m = CLAUSE_RE.exec(clause);
      if (!m) {
        throw new StatsQueryError(
          `malformed where clause ${JSON.stringify(clause.trim())}: expected <field><op><value> with op one of ${FILTER_OPS.join(' ')} (clauses separated by ;)`,
          'where',
        );
      }
      const op = (m[2] === '<>' ? '!=' : m[2] === '==' ? '=' : m[2]) as FilterOp;
      if (m[3] === '') throw new StatsQueryError(`malformed where clause ${JSON.stringify(clause.trim())}: missing value after ${op}`, 'where');
      const value = parseValue(m[3]);
      if (value === undefined) {
        throw new StatsQueryError(
          `malformed where clause ${JSON.stringify(clause.trim())}: cannot read value ${JSON.stringify(m[3])} (use a number, true, false, null, or a string; quote strings with spaces or operators)`,
          'where',
        );
      }
      if (value === null && op !== '=' && op !== '!=') {
        throw new StatsQueryError(`malformed where clause ${JSON.stringify(clause.trim())}: null only works with = and !=`, 'where');
      }
      filters.push({ field: m[1], op, value });
    }
  }
  return filters;
}

const show = (f: Filter) => `${f.field}${f.op}${f.value === null ? 'null' : typeof f.value === 'string' ? JSON.stringify(f.value) : String(f.value)}`;

// ------------------------------------------------------------------ sweep variables

/** Axis variables of a stored spec, in axis order (zip members in order, random params sorted by name). */
export function specVariables(spec: unknown): string[] {
  const out: string[] = [];
  const axes = (spec as { axes?: unknown } | null)?.axes;
  if (!Array.isArray(axes)) return out;
  const add = (a: unknown) => {
    if (!a || typeof a !== 'object') return;
    const o = a as Record<string, unknown>;
    if (typeof o.param === 'string') out.push(o.param);
    else if (Array.isArray(o.zip)) o.zip.forEach(add);
    else if (o.random && typeof o.random === 'object') {
      const params = (o.random as { params?: unknown }).params;
      if (params && typeof params === 'object') out.push(...Object.keys(params).sort());
    }
  };
  axes.forEach(add);
  return [...new Set(out)];
}

export interface SweepMeta {
  id: string;
  spec: unknown;
  /** Axis variables: the spec's, then any other key of the first run's params. */
  variables: string[];
}

/**
 * The sweep's spec and axis variables, or null when there is no such sweep visible to
 * `vis` (or the id is no uuid). The API always passes the caller's visibility; the
 * default (every sweep) is for tools with direct database access (bench).
 */
export async function sweepMeta(db: Queryable, sweepId: string, vis: Visibility = ALL_SWEEPS): Promise<SweepMeta | null> {
  if (!isUuid(sweepId)) return null;
  const { rows } = await db.query<{ spec: unknown; first: Record<string, unknown> | null }>(
    `SELECT s.spec, (SELECT r.params FROM runs r WHERE r.sweep_id = s.id ORDER BY r.index LIMIT 1) AS first
       FROM sweeps s WHERE s.id = $1 AND ${teamCondition('$2', 's.team_id')}`,
    [sweepId, visibleTeam(vis)],
  );
  if (!rows.length) return null;
  const variables = specVariables(rows[0].spec);
  const first = rows[0].first;
  if (first && typeof first === 'object') for (const k of Object.keys(first)) if (!variables.includes(k)) variables.push(k);
  return { id: sweepId, spec: rows[0].spec, variables };
}

// ------------------------------------------------------------------ SQL building

/** Positional parameters: add() returns the placeholder. */
class Params {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

const SQL_OPS = new Map<FilterOp, string>([['=', '='], ['!=', '<>'], ['<', '<'], ['<=', '<='], ['>', '>'], ['>=', '>=']]);

/** The field as float8 (booleans as 0/1), reading `res`. */
function metricSql(f: SummaryField, p: Params): string {
  const raw = f.column ? `res.${f.column}` : `(res.summary #>> ${p.add(f.path)}::text[])`;
  if (f.kind === 'boolean') return f.column ? `(${raw})::int::float8` : `(${raw})::boolean::int::float8`;
  return f.column ? `(${raw})::float8` : `${raw}::float8`;
}

function filterSql(f: Filter, variables: string[], p: Params): string {
  const op = SQL_OPS.get(f.op);
  if (!op) throw new StatsQueryError(`unknown operator ${JSON.stringify(f.op)}: use one of ${FILTER_OPS.join(' ')}`, 'where');
  const variable = resolveVariable(f.field, variables);
  if (variable !== null) {
    // jsonb comparison: numeric order for numbers, no cast that could fail on a string value.
    return `r.params -> ${p.add(variable)}::text ${op} ${p.add(JSON.stringify(f.value))}::jsonb`;
  }
  const s = parseSummaryField(f.field);
  if (!s) {
    throw new StatsQueryError(
      `unknown field ${JSON.stringify(f.field)}${didYouMean(f.field, variables)} in where clause ${JSON.stringify(show(f))}: not an axis variable of this sweep ` +
        `(${variables.join(', ') || 'none'}) nor a summary field (${SUMMARY_FIELD_HELP})`,
      'where',
    );
  }
  const expr = s.column ? `res.${s.column}` : `(res.summary #>> ${p.add(s.path)}::text[])::${s.kind === 'boolean' ? 'boolean' : 'float8'}`;
  if (f.value === null) return `${expr} IS ${f.op === '=' ? '' : 'NOT '}NULL`;
  if (s.kind === 'boolean') {
    if (typeof f.value !== 'boolean') throw new StatsQueryError(`where clause ${JSON.stringify(show(f))}: ${f.field} is true or false`, 'where');
    if (f.op !== '=' && f.op !== '!=') throw new StatsQueryError(`where clause ${JSON.stringify(show(f))}: ${f.field} only compares with = or !=`, 'where');
    return `${expr} ${op} ${p.add(f.value)}::boolean`;
  }
  if (typeof f.value !== 'number') throw new StatsQueryError(`where clause ${JSON.stringify(show(f))}: ${f.field} is a number`, 'where');
  return `${expr} ${op} ${p.add(f.value)}::float8`;
}

// ------------------------------------------------------------------ sweepStats

export interface StatsOptions {
  /** Axis variables to group by (none: one group of all runs). */
  groupBy: string[];
  /** Summary fields (`summary.nashGap`, `summary.basinShare.0`, ...). */
  metrics: string[];
  where: Filter[];
  /**
   * Aggregate the results of this contract only; default the newest contract among the
   * sweep's succeeded runs. Runs of other contracts are counted in `otherContracts`.
   */
  contract?: number;
  /** Whose sweeps count (default: every sweep; the API always passes the caller's). */
  visibility?: Visibility;
}

export interface MetricStats {
  /** Runs of the group where the metric is not null. */
  count: number;
  mean: number | null;
  /** Sample standard deviation (n - 1); null below 2 values. */
  std: number | null;
  min: number | null;
  /** Percentiles with linear interpolation (percentile_cont). */
  p10: number | null;
  median: number | null;
  p90: number | null;
  max: number | null;
  /** Mean of the squares (e.g. mean squared Nash gap). */
  meanSquare: number | null;
  /** Root mean square: sqrt(meanSquare). */
  rms: number | null;
}

export interface StatsGroup {
  /** groupBy variable -> value. */
  key: Record<string, unknown>;
  /** Succeeded runs in the group (seeds fall inside a group). */
  n: number;
  /** The run, when the group holds exactly one. */
  runId: string | null;
  /** The group's first stored run (lowest id): the one to show for the group. */
  firstRunId: string;
  /** The contract whose results the group aggregates. */
  contract: number;
  /** The core versions that computed the group's results. */
  coreVersions: string[];
  metrics: Record<string, MetricStats>;
  collapsedRate: number | null;
  convergedRate: number | null;
  /** Rate of summary.audit.inInterval over the runs that have an audit (m = 2). */
  inIntervalRate: number | null;
  meanConvergedAt: number | null;
}

/** Succeeded runs of a contract that a reply leaves out (never aggregated with another contract). */
export interface OtherContract {
  contract: number;
  runs: number;
  coreVersions: string[];
}

export interface SweepStats {
  sweepId: string;
  groupBy: string[];
  metrics: string[];
  where: Filter[];
  variables: string[];
  /** The contract every group aggregates (null when no run matched). */
  contract: number | null;
  /** The core versions behind the groups. */
  coreVersions: string[];
  /** Matching succeeded runs of other contracts, left out. */
  otherContracts: OtherContract[];
  groups: StatsGroup[];
}

export const MAX_GROUP_BY = 6;
export const MAX_METRICS = 24;

function checkContract(c: number | undefined): void {
  if (c !== undefined && !(Number.isSafeInteger(c) && c >= 1)) throw new StatsQueryError(`must be a positive integer, got ${String(c)}`, 'contract');
}

/** Statement text and parameters of sweepStats (exported for EXPLAIN in the benchmark). */
export function buildStatsQuery(sweepId: string, variables: string[], o: StatsOptions): { text: string; values: unknown[] } {
  const groupBy = [...new Set(o.groupBy)];
  const metrics = [...new Set(o.metrics)];
  if (groupBy.length > MAX_GROUP_BY) throw new StatsQueryError(`takes at most ${MAX_GROUP_BY} variables`, 'groupBy');
  if (metrics.length > MAX_METRICS) throw new StatsQueryError(`takes at most ${MAX_METRICS} fields`, 'metrics');
  const groupVars = groupBy.map((g) => requireVariable(g, variables, 'groupBy'));
  const fields = metrics.map((m) => requireMetric(m));
  const p = new Params();
  const sweep = p.add(sweepId);
  const inner = [
    ...groupVars.map((g, i) => `r.params -> ${p.add(g)}::text AS g${i}`),
    ...fields.map((f, i) => `${metricSql(f, p)} AS m${i}`),
    'r.id', 'res.contract', 'res.core_version', 'res.collapsed', 'res.converged', 'res.in_interval', 'res.converged_at',
  ];
  const conds = [`r.sweep_id = ${sweep}::uuid`, `r.status = 'succeeded'`, ...o.where.map((f) => filterSql(f, variables, p))];
  const outer = [
    'contract',
    ...groupBy.map((_, i) => `g${i}`),
    'count(*)::int AS n',
    'CASE WHEN count(*) = 1 THEN min(id)::text END AS run_id',
    'min(id)::text AS first_run_id',
    'array_agg(DISTINCT core_version ORDER BY core_version) AS core_versions',
    ...fields.flatMap((_, i) => [
      `count(m${i})::int AS m${i}_count`,
      `avg(m${i}) AS m${i}_mean`,
      `stddev_samp(m${i}) AS m${i}_std`,
      `min(m${i}) AS m${i}_min`,
      `percentile_cont('{0.1,0.5,0.9}'::float8[]) WITHIN GROUP (ORDER BY m${i}) AS m${i}_pct`,
      `max(m${i}) AS m${i}_max`,
      `avg(m${i} * m${i}) AS m${i}_msq`,
    ]),
    'avg(collapsed::int)::float8 AS collapsed_rate',
    'avg(converged::int)::float8 AS converged_rate',
    'avg(in_interval::int)::float8 AS in_interval_rate',
    'avg(converged_at)::float8 AS mean_converged_at',
  ];
  // Grouped by contract first: results of two contracts are never aggregated together.
  const keys = ['contract', ...groupBy.map((_, i) => `g${i}`)].join(', ');
  const text =
    `SELECT ${outer.join(',\n       ')}\n` +
    `FROM (SELECT ${inner.join(', ')}\n` +
    `        FROM runs r JOIN results res ON res.id = r.result_id\n` +
    `       WHERE ${conds.join('\n         AND ')}) t\n` +
    `GROUP BY ${keys}\nORDER BY ${keys}`;
  return { text, values: p.values };
}

/** Merges the rows of the contracts a reply leaves out. */
function others(rows: { contract: number; n: number; coreVersions: string[] }[]): OtherContract[] {
  const by = new Map<number, OtherContract>();
  for (const r of rows) {
    const o = by.get(r.contract) ?? { contract: r.contract, runs: 0, coreVersions: [] };
    o.runs += r.n;
    for (const v of r.coreVersions) if (!o.coreVersions.includes(v)) o.coreVersions.push(v);
    by.set(r.contract, o);
  }
  return [...by.values()].map((o) => ({ ...o, coreVersions: o.coreVersions.sort() })).sort((a, b) => b.contract - a.contract);
}

const union = (lists: string[][]) => [...new Set(lists.flat())].sort();

/**
 * Groups the succeeded runs of a sweep by axis variables and aggregates metrics per group,
 * over the results of one contract (the newest by default; see StatsOptions.contract).
 * Returns null when the sweep does not exist; throws StatsQueryError on a bad request.
 */
export async function sweepStats(db: Queryable, sweepId: string, o: StatsOptions): Promise<SweepStats | null> {
  checkContract(o.contract);
  const meta = await sweepMeta(db, sweepId, o.visibility ?? ALL_SWEEPS);
  if (!meta) return null;
  const groupBy = [...new Set(o.groupBy)];
  const metrics = [...new Set(o.metrics)];
  const q = buildStatsQuery(sweepId, meta.variables, { groupBy, metrics, where: o.where });
  const { rows } = await db.query<Record<string, unknown>>(q);
  const all = rows.map((row) => {
    const out: StatsGroup = {
      key: Object.fromEntries(groupBy.map((g, i) => [g, row[`g${i}`] ?? null])),
      n: row.n as number,
      runId: (row.run_id as string | null) ?? null,
      firstRunId: row.first_run_id as string,
      contract: row.contract as number,
      coreVersions: (row.core_versions as string[] | null) ?? [],
      metrics: {},
      collapsedRate: row.collapsed_rate as number | null,
      convergedRate: row.converged_rate as number | null,
      inIntervalRate: row.in_interval_rate as number | null,
      meanConvergedAt: row.mean_converged_at as number | null,
    };
    // A Map while filling: metric names are validated, but never let one be a key of a plain object's prototype.
    const ms = new Map<string, MetricStats>();
    metrics.forEach((m, i) => {
      const pct = (row[`m${i}_pct`] as (number | null)[] | null) ?? [null, null, null];
      const msq = row[`m${i}_msq`] as number | null;
      ms.set(m, {
        count: row[`m${i}_count`] as number,
        mean: row[`m${i}_mean`] as number | null,
        std: row[`m${i}_std`] as number | null,
        min: row[`m${i}_min`] as number | null,
        p10: pct[0] ?? null,
        median: pct[1] ?? null,
        p90: pct[2] ?? null,
        max: row[`m${i}_max`] as number | null,
        meanSquare: msq,
        rms: msq === null ? null : Math.sqrt(msq),
      });
    });
    out.metrics = Object.fromEntries(ms);
    return out;
  });
  const contract = o.contract ?? (all.length ? Math.max(...all.map((g) => g.contract)) : null);
  const groups = all.filter((g) => g.contract === contract);
  return {
    sweepId, groupBy, metrics, where: o.where, variables: meta.variables,
    contract,
    coreVersions: union(groups.map((g) => g.coreVersions)),
    otherContracts: others(all.filter((g) => g.contract !== contract)),
    groups,
  };
}

// ------------------------------------------------------------------ sweepsByTag

export interface TagSweepStats {
  id: string;
  name: string;
  createdAt: Date;
  status: string;
  total: number;
  /** Succeeded runs, of every contract. */
  succeeded: number;
  failed: number;
  /** The contract whose results the rates and metrics aggregate (null: no succeeded run). */
  contract: number | null;
  coreVersions: string[];
  /** Succeeded runs of other contracts, left out of the rates and metrics. */
  otherContracts: OtherContract[];
  collapsedRate: number | null;
  convergedRate: number | null;
  inIntervalRate: number | null;
  meanNashGap: number | null;
  meanConvergedAt: number | null;
  /** Optional extra metrics: mean and sample sd over the sweep's succeeded runs. */
  metrics: Record<string, { count: number; mean: number | null; std: number | null; meanSquare: number | null; rms: number | null }>;
}

/**
 * One line per sweep carrying `tag`, oldest first (a team's history). Each line
 * aggregates one contract's results: `contract` if given, else the sweep's newest.
 */
export async function sweepsByTag(
  db: Queryable,
  tag: string,
  o: { metrics?: string[]; limit?: number; contract?: number; visibility?: Visibility } = {},
): Promise<TagSweepStats[]> {
  checkContract(o.contract);
  const metrics = [...new Set(o.metrics ?? [])];
  if (metrics.length > MAX_METRICS) throw new StatsQueryError(`takes at most ${MAX_METRICS} fields`, 'metrics');
  const fields = metrics.map((m) => requireMetric(m));
  const p = new Params();
  const tagP = p.add(tag);
  const limitP = p.add(Math.max(1, Math.min(o.limit ?? 200, 1000)));
  const teamP = p.add(visibleTeam(o.visibility ?? ALL_SWEEPS));
  const extra = fields.flatMap((f, i) => {
    const e = metricSql(f, p);
    return [`count(${e})::int AS m${i}_count`, `avg(${e}) AS m${i}_mean`, `stddev_samp(${e}) AS m${i}_std`, `avg((${e}) * (${e})) AS m${i}_msq`];
  });
  // One row per sweep and contract (failed and unfinished runs have no result: contract NULL).
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT s.id, s.name, s.created_at AS "createdAt", s.status, s.total, res.contract,
            coalesce(array_agg(DISTINCT res.core_version ORDER BY res.core_version) FILTER (WHERE res.core_version IS NOT NULL), '{}') AS "coreVersions",
            count(r.id) FILTER (WHERE r.status = 'succeeded')::int AS succeeded,
            count(r.id) FILTER (WHERE r.status = 'failed')::int AS failed,
            count(res.id)::int AS n,
            avg(res.collapsed::int)::float8 AS "collapsedRate",
            avg(res.converged::int)::float8 AS "convergedRate",
            avg(res.in_interval::int)::float8 AS "inIntervalRate",
            avg(res.nash_gap)::float8 AS "meanNashGap",
            avg(res.converged_at)::float8 AS "meanConvergedAt"${extra.length ? ',\n            ' + extra.join(',\n            ') : ''}
       FROM (SELECT * FROM sweeps WHERE ${tagP} = ANY(tags) AND ${teamCondition(teamP)} ORDER BY created_at, id LIMIT ${limitP}) s
       LEFT JOIN runs r ON r.sweep_id = s.id
       LEFT JOIN results res ON res.id = r.result_id AND r.status = 'succeeded'
      GROUP BY s.id, s.name, s.created_at, s.status, s.total, res.contract
      ORDER BY s.created_at, s.id, res.contract DESC NULLS LAST`,
    p.values,
  );
  const bySweep = new Map<string, Record<string, unknown>[]>();
  for (const row of rows) {
    const list = bySweep.get(row.id as string) ?? [];
    list.push(row);
    bySweep.set(row.id as string, list);
  }
  return [...bySweep.values()].map((list) => {
    const first = list[0];
    const withResults = list.filter((r) => r.contract !== null);
    const contract = o.contract ?? (withResults.length ? Math.max(...withResults.map((r) => r.contract as number)) : null);
    const row = withResults.find((r) => r.contract === contract);
    const sum = (k: string) => list.reduce((a, r) => a + (r[k] as number), 0);
    const pick = (k: string) => (row ? (row[k] as number | null) : null);
    const out: TagSweepStats = {
      id: first.id as string, name: first.name as string, createdAt: first.createdAt as Date, status: first.status as string,
      total: first.total as number, succeeded: sum('succeeded'), failed: sum('failed'),
      contract: row ? contract : null,
      coreVersions: row ? (row.coreVersions as string[]) : [],
      otherContracts: others(withResults.filter((r) => r !== row).map((r) => ({
        contract: r.contract as number, n: r.n as number, coreVersions: r.coreVersions as string[],
      }))),
      collapsedRate: pick('collapsedRate'), convergedRate: pick('convergedRate'), inIntervalRate: pick('inIntervalRate'),
      meanNashGap: pick('meanNashGap'), meanConvergedAt: pick('meanConvergedAt'), metrics: {},
    };
    const ms = new Map<string, TagSweepStats['metrics'][string]>();
    metrics.forEach((m, i) => {
      const msq = pick(`m${i}_msq`);
      ms.set(m, {
        count: row ? (row[`m${i}_count`] as number) : 0,
        mean: pick(`m${i}_mean`),
        std: pick(`m${i}_std`),
        meanSquare: msq,
        rms: msq === null ? null : Math.sqrt(msq),
      });
    });
    out.metrics = Object.fromEntries(ms);
    return out;
  });
}
