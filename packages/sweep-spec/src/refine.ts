// The `refine` block of a sweep specification: adaptive sweeps that refine toward a
// boundary. Parsing with precise issues, and the plan a service drives stage by stage
// (the lattice, the outcome of a point, the next stage's points, the boundary). Pure.
import { RunConfigSchema } from '@curation/core';
import type { SpecIssue } from './errors.ts';
import { CONFIG_FIELDS } from './schema.ts';
import { RefineLattice, planStage, replayStages, type Dims, type PointValues, type StagePlan } from './refine-lattice.ts';
import { latticeBoundary, type BoundaryCell, type LatticePoint } from './refine-boundary.ts';
import { isFiniteNumber, isPlainObject, isSafeInt, show, tidy, typeName } from './values.ts';

export const REFINE_FIELDS = ['axes', 'start', 'finest', 'depth', 'budget', 'outcome'];
export const MAX_REFINE_DEPTH = 16;
const MAX_RUN_INDEX = 2 ** 31 - 1; // runs.index is a 32-bit integer

export type Scale = 'linear' | 'log';
export type VerdictAggregate = 'majority' | 'all' | 'any';
export type MetricAggregate = 'mean' | 'median' | 'min' | 'max';

export interface RefineAxis {
  param: string;
  min: number;
  max: number;
  scale: Scale;
  /** JSON pointer of the axis's param in the spec. */
  at: string;
}

export type RefineOutcome =
  | { kind: 'verdict'; path: string; segs: string[]; aggregate: VerdictAggregate }
  | { kind: 'threshold'; path: string; segs: string[]; threshold: number; aggregate: MetricAggregate }
  | { kind: 'tolerance'; path: string; segs: string[]; tolerance: number; aggregate: MetricAggregate };

export interface ParsedRefine {
  axes: RefineAxis[];
  start: number;
  depth: number;
  budget: number;
  outcome: RefineOutcome;
}

type Issues = SpecIssue[];

// Contract 2's summary: which paths hold verdicts (booleans) and which numbers. N: an index.
const BOOLEAN_PATHS = [
  'converged', 'collapsed', 'audit.disjoint', 'audit.gapsExceed2eps.N', 'audit.inWindow', 'audit.largeK', 'audit.applies',
  'audit.inInterval', 'audit.inIntervalB5', 'audit.inIntervalCorrected', 'audit.nash.premise',
];
const NUMBER_PATHS = [
  'convergedAt', 'basinShare.N', 'nashGap', 'survivingBasins', 'outsideDecayRate',
  'final.t', 'final.entropy', 'final.effectiveSupport', 'final.outside', 'final.step', 'final.shareStep',
  'final.mass.N', 'final.meanReward.N', 'final.varReward.N',
  'audit.initMass.N', 'audit.crossGap.N', 'audit.outsideGap', 'audit.leakage.N', 'audit.interval.N', 'audit.intervalB5.N',
  'audit.intervalCorrected.N', 'audit.outsideDomination', 'audit.varianceBound.N', 'audit.varianceSlack.N',
  'audit.nash.utilities.N.N', 'audit.nash.gains.N',
];
const toRe = (p: string) => new RegExp('^' + p.replace(/\./g, '\\.').replace(/N/g, '(0|[1-9][0-9]*)') + '$');
const BOOLEAN_RES = BOOLEAN_PATHS.map(toRe);
const NUMBER_RES = NUMBER_PATHS.map(toRe);

/** 'boolean', 'number', or null for a path that is not in the summary. */
export function summaryFieldType(path: string): 'boolean' | 'number' | null {
  if (!path.startsWith('summary.')) return null;
  const rest = path.slice('summary.'.length);
  if (BOOLEAN_RES.some((r) => r.test(rest))) return 'boolean';
  if (NUMBER_RES.some((r) => r.test(rest))) return 'number';
  return null;
}

type SchemaNode = { type?: string; properties?: Record<string, SchemaNode>; items?: SchemaNode; anyOf?: SchemaNode[]; const?: unknown };

/** The JSON types a configuration path can take according to RunConfigSchema (empty when it does not resolve). */
function configTypes(segs: string[]): Set<string> {
  const out = new Set<string>();
  const walk = (node: SchemaNode | undefined, k: number): void => {
    if (!node) return;
    if (node.anyOf) {
      for (const n of node.anyOf) walk(n, k);
      return;
    }
    if (k === segs.length) {
      if (node.const !== undefined) out.add(typeof node.const);
      else if (node.type) out.add(node.type);
      return;
    }
    const s = segs[k];
    if (node.type === 'object' && node.properties) walk(node.properties[s], k + 1);
    else if (node.type === 'array' && /^[0-9]+$/.test(s)) walk(node.items, k + 1);
  };
  walk(RunConfigSchema as unknown as SchemaNode, 0);
  return out;
}

function unknownKeys(obj: Record<string, unknown>, allowed: readonly string[], at: string, issues: Issues, hint = ''): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) issues.push({ path: `${at}/${k}`, message: `unknown field '${k}' (allowed here: ${allowed.join(', ')})${hint}` });
  }
}

function parseAxis(a: unknown, at: string, issues: Issues, checkParam: (name: unknown, at: string, issues: Issues) => boolean): RefineAxis | null {
  if (!isPlainObject(a)) {
    issues.push({ path: at, message: `a refine axis must be an object { param, min, max, scale }, got ${typeName(a)}` });
    return null;
  }
  const before = issues.length;
  const discrete = ['values', 'replicates', 'linspace', 'logspace', 'choice'].find((k) => k in a);
  if (discrete) {
    issues.push({
      path: `${at}/${discrete}`,
      message: `a refine axis is continuous: give its range as min and max (and scale), not ${discrete}; put discrete axes under axes`,
    });
  }
  unknownKeys(a, discrete ? ['param', 'min', 'max', 'scale', discrete] : ['param', 'min', 'max', 'scale'], at, issues);
  const nameOk = checkParam(a.param, `${at}/param`, issues);
  if (nameOk) {
    const segs = (a.param as string).split('.');
    if (CONFIG_FIELDS.includes(segs[0])) {
      const types = configTypes(segs);
      if (types.size > 0 && !types.has('number')) {
        const what = [...types].sort().map((t) => (t === 'integer' ? 'integers' : t === 'string' ? 'strings' : `${t}s`)).join(' or ');
        issues.push({
          path: `${at}/param`,
          message:
            `'${a.param}' takes ${what}, so it cannot be refined continuously; ` +
            `refine a free variable and derive it (e.g. refine 'k', derive ${a.param}: "round(k)")`,
        });
      }
    }
  }
  const scale = a.scale ?? 'linear';
  if (scale !== 'linear' && scale !== 'log') issues.push({ path: `${at}/scale`, message: `scale must be "linear" or "log", got ${show(a.scale)}` });
  for (const k of ['min', 'max'] as const) {
    if (!isFiniteNumber(a[k])) issues.push({ path: `${at}/${k}`, message: `${k} must be a finite number, got ${a[k] === undefined ? 'nothing' : typeName(a[k])}` });
    else if (scale === 'log' && (a[k] as number) <= 0) issues.push({ path: `${at}/${k}`, message: `a log-scale axis needs ${k} > 0, got ${a[k]}` });
  }
  if (isFiniteNumber(a.min) && isFiniteNumber(a.max) && !(a.min < a.max)) {
    issues.push({ path: `${at}/max`, message: `max must be greater than min, got min ${a.min} and max ${a.max}` });
  }
  if (issues.length !== before) return null;
  return { param: a.param as string, min: a.min as number, max: a.max as number, scale: scale as Scale, at: `${at}/param` };
}

function parseOutcome(o: unknown, at: string, issues: Issues): RefineOutcome | null {
  const forms = '{ verdict: "summary.collapsed" }, { metric: "summary.basinShare.0", threshold: 0.05 } or { metric: ..., tolerance: 0.1 }';
  if (!isPlainObject(o)) {
    issues.push({ path: at, message: `outcome must be one of ${forms}, got ${typeName(o)}` });
    return null;
  }
  const before = issues.length;
  unknownKeys(o, ['verdict', 'metric', 'threshold', 'tolerance', 'aggregate'], at, issues);
  const hasV = o.verdict !== undefined;
  const hasM = o.metric !== undefined;
  if (hasV === hasM) {
    issues.push({ path: at, message: `outcome needs exactly one of verdict or metric: ${forms}` });
    return null;
  }
  const key = hasV ? 'verdict' : 'metric';
  const path = o[key];
  if (typeof path !== 'string') {
    issues.push({ path: `${at}/${key}`, message: `${key} must be a summary path such as "summary.collapsed", got ${typeName(path)}` });
    return null;
  }
  const type = summaryFieldType(path);
  const segs = path.split('.').slice(1);
  if (type === null) {
    issues.push({
      path: `${at}/${key}`,
      message: `${JSON.stringify(path)} is not a field of a run's summary (e.g. summary.collapsed, summary.converged, summary.audit.applies, summary.audit.inInterval, summary.basinShare.0, summary.nashGap)`,
    });
    return null;
  }
  if (hasV) {
    if (type !== 'boolean') {
      issues.push({ path: `${at}/verdict`, message: `${path} is a number, not a verdict: use { metric: "${path}", threshold: ... } or tolerance` });
    }
    for (const k of ['threshold', 'tolerance']) {
      if (o[k] !== undefined) issues.push({ path: `${at}/${k}`, message: `a verdict is true or false: ${k} applies to a numeric metric only` });
    }
    const aggregate = o.aggregate ?? 'majority';
    if (!['majority', 'all', 'any'].includes(aggregate as string)) {
      issues.push({ path: `${at}/aggregate`, message: `a verdict over replicates aggregates by majority, all or any, got ${show(o.aggregate)}` });
    }
    return issues.length === before ? { kind: 'verdict', path, segs, aggregate: aggregate as VerdictAggregate } : null;
  }
  if (type === 'boolean') {
    const k = o.threshold !== undefined ? 'threshold' : o.tolerance !== undefined ? 'tolerance' : 'metric';
    issues.push({ path: `${at}/${k}`, message: `${path} is a boolean verdict, so a threshold or tolerance cannot apply: use { verdict: "${path}" }` });
    return null;
  }
  const hasT = o.threshold !== undefined;
  const hasD = o.tolerance !== undefined;
  if (hasT === hasD) {
    issues.push({ path: at, message: 'a metric needs exactly one of threshold (the boundary is where it crosses this value) or tolerance (refine where neighbours differ by more)' });
    return null;
  }
  if (hasT && !isFiniteNumber(o.threshold)) issues.push({ path: `${at}/threshold`, message: `threshold must be a finite number, got ${typeName(o.threshold)}` });
  if (hasD && !(isFiniteNumber(o.tolerance) && o.tolerance > 0)) {
    issues.push({ path: `${at}/tolerance`, message: `tolerance must be a number > 0, got ${show(o.tolerance)}` });
  }
  const aggregate = o.aggregate ?? 'mean';
  if (!['mean', 'median', 'min', 'max'].includes(aggregate as string)) {
    issues.push({ path: `${at}/aggregate`, message: `a metric over replicates aggregates by mean, median, min or max, got ${show(o.aggregate)}` });
  }
  if (issues.length !== before) return null;
  return hasT
    ? { kind: 'threshold', path, segs, threshold: o.threshold as number, aggregate: aggregate as MetricAggregate }
    : { kind: 'tolerance', path, segs, tolerance: o.tolerance as number, aggregate: aggregate as MetricAggregate };
}

/**
 * Parses the structure of `refine`. The sizes that depend on the ordinary axes (the
 * budget against the starting grid) are checked by checkRefineSize once they are known.
 */
export function parseRefine(
  r: unknown,
  issues: Issues,
  checkParam: (name: unknown, at: string, issues: Issues) => boolean,
): ParsedRefine | null {
  const at = '/refine';
  if (!isPlainObject(r)) {
    issues.push({ path: at, message: `refine must be an object { axes, start, finest | depth, budget, outcome }, got ${typeName(r)}` });
    return null;
  }
  const before = issues.length;
  unknownKeys(r, REFINE_FIELDS, at, issues);
  const axes: RefineAxis[] = [];
  if (!Array.isArray(r.axes) || r.axes.length < 1 || r.axes.length > 2) {
    issues.push({
      path: `${at}/axes`,
      message: `refine.axes must list one or two continuous axes { param, min, max, scale }, got ${Array.isArray(r.axes) ? `${r.axes.length}` : typeName(r.axes)}`,
    });
  } else {
    r.axes.forEach((a, k) => {
      const ax = parseAxis(a, `${at}/axes/${k}`, issues, checkParam);
      if (ax) axes.push(ax);
    });
    if (axes.length === 2 && axes[0].param === axes[1].param) {
      issues.push({ path: `${at}/axes/1/param`, message: `'${axes[1].param}' is already refined by ${at}/axes/0` });
    }
  }
  const start = r.start;
  if (!isSafeInt(start) || start < 1 || start > 4096) {
    issues.push({ path: `${at}/start`, message: `start (cells per axis on the starting grid) must be an integer from 1 to 4096, got ${show(start)}` });
  }
  let depth = -1;
  if (r.finest === undefined && r.depth === undefined) {
    issues.push({ path: at, message: 'refine needs finest (cells per axis at the finest level, start x 2^depth) or depth (halvings of the starting cells)' });
  }
  if (r.depth !== undefined) {
    if (!isSafeInt(r.depth) || r.depth < 0 || r.depth > MAX_REFINE_DEPTH) {
      issues.push({ path: `${at}/depth`, message: `depth must be an integer from 0 to ${MAX_REFINE_DEPTH}, got ${show(r.depth)}` });
    } else depth = r.depth;
  }
  if (r.finest !== undefined && isSafeInt(start) && start >= 1) {
    const f = r.finest;
    const ratio = isSafeInt(f) ? f / start : NaN;
    const d = Number.isInteger(ratio) && ratio >= 1 ? Math.log2(ratio) : NaN;
    if (!Number.isInteger(d) || d > MAX_REFINE_DEPTH) {
      issues.push({
        path: `${at}/finest`,
        message: `finest must be start x 2^depth (depth 0..${MAX_REFINE_DEPTH}) cells per axis, e.g. ${start * 32} for start ${start}, got ${show(f)}`,
      });
    } else if (depth >= 0 && d !== depth) {
      issues.push({ path: `${at}/finest`, message: `finest ${f} means depth ${d}, but depth says ${depth}; give one of them` });
    } else depth = d;
  }
  if (!isSafeInt(r.budget) || r.budget < 1) {
    issues.push({ path: `${at}/budget`, message: `budget (most runs) must be an integer >= 1, got ${show(r.budget)}` });
  }
  const outcome = r.outcome === undefined
    ? (issues.push({ path: `${at}/outcome`, message: 'refine needs an outcome: { verdict: ... } or { metric: ..., threshold | tolerance: ... }' }), null)
    : parseOutcome(r.outcome, `${at}/outcome`, issues);
  if (issues.length !== before || !outcome) return null;
  return { axes, start: start as number, depth, budget: r.budget as number, outcome };
}

/** Size checks that need `fixed`, the configurations per point (product of the ordinary axes). */
export function checkRefineSize(p: ParsedRefine, fixed: number, issues: Issues): void {
  const lat = new RefineLattice(p.axes.length as Dims, p.start, p.depth, fixed);
  const per = fixed === 1 ? '' : ` (${lat.pointsThrough(0)} points x ${fixed} configurations of the other axes)`;
  if (p.budget < lat.startRuns) {
    issues.push({
      path: '/refine/budget',
      message: `the budget of ${p.budget} runs is below the starting grid's ${lat.startRuns} runs${per}; raise the budget or lower start`,
    });
  }
  if (lat.capacity > MAX_RUN_INDEX) {
    issues.push({
      path: '/refine/finest',
      message: `the finest lattice has ${lat.capacity.toExponential(3)} runs${fixed === 1 ? '' : ` (x ${fixed} configurations per point)`}, more than 2^31 - 1; lower finest (or depth)`,
    });
  }
}

/** The value of axis `a` at lattice coordinate u (0..finest, fractional allowed). */
export function axisValue(a: RefineAxis, finest: number, u: number): number {
  if (u <= 0) return a.min;
  if (u >= finest) return a.max;
  const t = u / finest;
  if (a.scale === 'log') return tidy(Math.exp(Math.log(a.min) * (1 - t) + Math.log(a.max) * t));
  return tidy(a.min * (1 - t) + a.max * t);
}

/** Reads a summary field as a number (true 1, false 0), or null. */
export function readOutcome(summary: unknown, segs: readonly string[]): number | null {
  let cur: unknown = summary;
  for (const s of segs) {
    if (cur === null || typeof cur !== 'object') return null;
    cur = (cur as Record<string, unknown>)[s];
  }
  if (typeof cur === 'boolean') return cur ? 1 : 0;
  return typeof cur === 'number' && Number.isFinite(cur) ? cur : null;
}

/** The outcome of a point from its runs' values (unknown ones null). */
export function aggregateOutcome(outcome: RefineOutcome, values: readonly (number | null)[]): number | null {
  const v = values.filter((x): x is number => x !== null);
  if (!v.length) return null;
  switch (outcome.aggregate) {
    case 'majority': return v.filter((x) => x >= 0.5).length * 2 > v.length ? 1 : 0;
    case 'all': return v.every((x) => x >= 0.5) ? 1 : 0;
    case 'any': return v.some((x) => x >= 0.5) ? 1 : 0;
    case 'min': return Math.min(...v);
    case 'max': return Math.max(...v);
    case 'median': {
      const s = [...v].sort((a, b) => a - b);
      const m = s.length >> 1;
      return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
    }
    default: return v.reduce((a, b) => a + b, 0) / v.length;
  }
}

export interface AxisCell {
  /** [from, to] along each refine axis, in the axes' own coordinates. */
  range: [number, number][];
  level: number;
  boundary: boolean;
  value: number | null;
}

export interface Boundary {
  /** Polylines in the axes' coordinates ([x] or [x, y] points). */
  polylines: number[][][];
  cells: AxisCell[];
  /** The same polylines in lattice units (finest cells), for distances. */
  lattice: LatticePoint[][];
}

/** What a service needs to drive an adaptive sweep. */
export interface RefinePlan extends ParsedRefine {
  lattice: RefineLattice;
  /** Per-point outcome from the values of its runs. */
  aggregate(values: readonly (number | null)[]): number | null;
  /** The next stage from the points known so far (point key -> aggregated outcome) and the runs so far. */
  nextStage(values: PointValues, runsSoFar: number): StagePlan;
  /**
   * The stage-by-stage refinement replayed over what is known so far (`known`: the
   * points whose runs have all finished; every other point counts as unknown, like a
   * failed one), without the budget: every point it asks for, with the stage that adds
   * it. Knowing more only adds points and moves points to earlier stages (a cell that
   * disagrees on some of its points disagrees on all of them), so a service may run
   * the points of later stages as soon as the evidence for them is in: once every
   * point is known, the points and stages are exactly those of the stage-synchronous
   * rule (when the budget does not cut it short).
   */
  schedule(known: PointValues): Map<number, number>;
  boundary(values: PointValues): Boundary;
}

export function makeRefinePlan(p: ParsedRefine, fixed: number): RefinePlan {
  const lattice = new RefineLattice(p.axes.length as Dims, p.start, p.depth, fixed);
  const o = p.outcome;
  const side = (v: number | null): number | null => (o.kind !== 'threshold' || v === null ? v : v >= o.threshold ? 1 : 0);
  const sides = (values: PointValues): PointValues => {
    if (o.kind !== 'threshold') return values;
    const out: PointValues = new Map();
    for (const [k, v] of values) out.set(k, side(v));
    return out;
  };
  const kind = o.kind === 'tolerance' ? 'tolerance' : 'side';
  const tolerance = o.kind === 'tolerance' ? o.tolerance : 0;
  const toAxes = (pt: LatticePoint): number[] => p.axes.map((a, i) => axisValue(a, lattice.finest, pt[i]));
  return {
    ...p,
    lattice,
    aggregate: (values) => aggregateOutcome(o, values),
    nextStage(values, runsSoFar) {
      const room = Math.max(0, Math.floor((p.budget - runsSoFar) / fixed));
      return planStage(lattice, sides(values), kind, tolerance, room);
    },
    schedule(known) {
      return replayStages(lattice, (k) => side(known.get(k) ?? null), kind, tolerance);
    },
    boundary(values) {
      // A tolerance outcome has no level set: its boundary is drawn through the cells' mean, the middle of its range.
      let b;
      if (o.kind === 'threshold') b = latticeBoundary(lattice, values, { mode: 'threshold', threshold: o.threshold });
      else if (o.kind === 'verdict') b = latticeBoundary(lattice, values, { mode: 'side' });
      else {
        const known = [...values.values()].filter((v): v is number => v !== null);
        const mid = known.length ? (Math.min(...known) + Math.max(...known)) / 2 : 0;
        b = latticeBoundary(lattice, values, { mode: 'threshold', threshold: mid });
      }
      const cells: AxisCell[] = (b.cells as BoundaryCell[]).map((c) => ({
        range: p.axes.map((a, i) => {
          const lo = i === 0 ? c.ix : c.iy;
          return [axisValue(a, lattice.finest, lo), axisValue(a, lattice.finest, lo + c.h)] as [number, number];
        }),
        level: c.level,
        boundary: c.boundary,
        value: c.value,
      }));
      return {
        polylines: b.polylines.map((line) => line.map((pt) => toAxes(pt))),
        cells,
        lattice: b.polylines,
      };
    },
  };
}

/** The refine axes as compile.ts's axes: one variable each, valued on the finest lattice (finest + 1 points). */
export function refineAxisDefs(p: ParsedRefine): { length: number; vars: { name: string; at: string; axis: number; numeric: boolean; valueAt: (d: number) => unknown }[] }[] {
  const finest = p.start * 2 ** p.depth;
  return p.axes.map((a, k) => ({
    length: finest + 1,
    vars: [{ name: a.param, at: a.at, axis: k, numeric: true, valueAt: (d: number) => axisValue(a, finest, d) }],
  }));
}

interface Expansion {
  total: number;
  paramsAt(i: number): Record<string, unknown>;
  configAt(i: number): unknown;
}

/**
 * An adaptive sweep's expansion from the full one (refine axes first, so the full
 * index of lattice point `key` and combination f of the other axes is key x fixed + f):
 * run index i maps through the lattice's level order. `total` becomes the starting
 * grid's runs; indexes up to the lattice's capacity stay valid.
 */
export function withRefine<T extends Expansion>(full: T, p: ParsedRefine): T & { refine: RefinePlan } {
  const lat0 = new RefineLattice(p.axes.length as Dims, p.start, p.depth, 1);
  const fixed = full.total / lat0.capacity;
  const plan = makeRefinePlan(p, fixed);
  const lat = plan.lattice;
  const inner = (i: number): number => {
    if (!Number.isSafeInteger(i) || i < 0 || i >= lat.capacity) {
      throw new RangeError(`configuration index ${String(i)} is out of range 0..${lat.capacity - 1} of the refine lattice`);
    }
    const { key, f } = lat.runPoint(i);
    return key * fixed + f;
  };
  return {
    ...full,
    total: lat.startRuns,
    refine: plan,
    paramsAt: (i: number) => full.paramsAt(inner(i)),
    configAt: (i: number) => full.configAt(inner(i)),
  };
}
