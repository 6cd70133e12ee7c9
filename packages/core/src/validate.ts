// Validation of a run configuration: every structural and semantic rule of the
// contract, reported all at once as (JSON pointer, reason) pairs, and the
// construction of the NormalizedConfig with every default filled in.
import type {
  ConfigIssue,
  CostEstimate,
  NormalizedConfig,
  NormalizedInit,
  NormalizedModel,
  NormalizedReward,
  NormalizedSupport,
  Clip,
} from './types.ts';
import { pointerToken, show, typeName } from './issues.ts';
import { buildSupport, supportSize, type SupportPoints } from './support.ts';
import { rewardValues } from './rewards.ts';
import { estimateCost, DEFAULT_MAX_COST_SECONDS } from './cost.ts';

/** Largest support the core accepts: beyond it memory (several n-vectors per reward) becomes the limit. */
export const MAX_ATOMS = 50_000_000;
/** Largest N: two Int32Array(N) buffers per run. */
export const MAX_SAMPLES = 100_000_000;
/** Tolerance on the sum of the weights (contract section 1). */
export const WEIGHT_SUM_TOLERANCE = 1e-9;

export const DEFAULTS = {
  K: 'inf' as const,
  beta: 1,
  realFraction: 0,
  iterations: 200,
  mode: 'exact' as const,
  samples: 10000,
  seed: 0,
  eps: 0.1,
  tol: 1e-6,
  recordEvery: 1,
  model: { kind: 'exact' } as NormalizedModel,
  retrain: 'replace' as const,
  minSd: 1e-6,
  emSteps: 1,
};

const ROOT_FIELDS = [
  'support', 'init', 'rewards', 'weights', 'q', 'K', 'beta', 'realFraction',
  'iterations', 'mode', 'samples', 'seed', 'eps', 'tol', 'recordEvery', 'model', 'retrain',
];

interface NumRule {
  integer?: boolean;
  min?: number;
  exclusiveMin?: number;
  max?: number;
  exclusiveMax?: number;
}

type Obj = Record<string, unknown>;

class Checker {
  readonly issues: ConfigIssue[] = [];

  add(path: string, message: string): void {
    this.issues.push({ path, message });
  }

  /** A plain object with only `allowed` keys and all `required` keys present. */
  object(value: unknown, path: string, allowed: string[], required: string[] = []): Obj | undefined {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.add(path, `must be an object (got ${typeName(value)})`);
      return undefined;
    }
    const o = value as Obj;
    for (const key of Object.keys(o)) {
      if (!allowed.includes(key)) this.add(`${path}/${pointerToken(key)}`, `unknown field "${key}"`);
    }
    for (const key of required) {
      if (o[key] === undefined) this.add(`${path}/${pointerToken(key)}`, 'is required');
    }
    return o;
  }

  /** The `kind` discriminator; undefined (with an issue) when missing or unknown. */
  kind<K extends string>(o: Obj, path: string, kinds: readonly K[]): K | undefined {
    const k = o.kind;
    const list = kinds.map((x) => `"${x}"`).join(', ');
    if (k === undefined) {
      this.add(`${path}/kind`, `is required (one of ${list})`);
      return undefined;
    }
    if (typeof k !== 'string' || !kinds.includes(k as K)) {
      this.add(`${path}/kind`, `must be one of ${list} (got ${show(k)})`);
      return undefined;
    }
    return k as K;
  }

  number(value: unknown, path: string, rule: NumRule = {}): number | undefined {
    if (typeof value !== 'number') {
      this.add(path, `must be a number (got ${typeName(value)})`);
      return undefined;
    }
    if (!Number.isFinite(value)) {
      this.add(path, `must be a finite number (got ${show(value)})`);
      return undefined;
    }
    if (rule.integer && !Number.isSafeInteger(value)) {
      this.add(path, `must be an integer (got ${show(value)})`);
      return undefined;
    }
    let ok = true;
    if (rule.min !== undefined && value < rule.min) {
      this.add(path, `must be >= ${rule.min} (got ${show(value)})`);
      ok = false;
    } else if (rule.exclusiveMin !== undefined && value <= rule.exclusiveMin) {
      this.add(path, `must be > ${rule.exclusiveMin} (got ${show(value)})`);
      ok = false;
    }
    if (rule.max !== undefined && value > rule.max) {
      this.add(path, `must be <= ${rule.max} (got ${show(value)})`);
      ok = false;
    } else if (rule.exclusiveMax !== undefined && value >= rule.exclusiveMax) {
      this.add(path, `must be < ${rule.exclusiveMax} (got ${show(value)})`);
      ok = false;
    }
    return ok ? value : undefined;
  }

  /** Optional number with a default. `bad` marks that an issue was reported. */
  optNumber(o: Obj, key: string, path: string, dflt: number, rule: NumRule = {}): number {
    if (o[key] === undefined) return dflt;
    const v = this.number(o[key], `${path}/${key}`, rule);
    return v === undefined ? NaN : v;
  }

  /**
   * A vector: a bare number (one-element vector) or a non-empty array of finite
   * numbers. When `d` is known the length must match it.
   */
  vector(value: unknown, path: string, d: number | undefined, what = 'entries', rule: NumRule = {}): number[] | undefined {
    let arr: number[];
    if (typeof value === 'number') {
      const v = this.number(value, path, rule);
      if (v === undefined) return undefined;
      arr = [v];
    } else if (Array.isArray(value)) {
      if (value.length === 0) {
        this.add(path, 'must not be empty');
        return undefined;
      }
      let ok = true;
      arr = [];
      value.forEach((x, i) => {
        const v = this.number(x, `${path}/${i}`, rule);
        if (v === undefined) ok = false;
        else arr.push(v);
      });
      if (!ok) return undefined;
    } else {
      this.add(path, `must be a number or an array of numbers (got ${typeName(value)})`);
      return undefined;
    }
    if (d !== undefined && arr.length !== d) {
      this.add(path, `must have ${d} ${what} (got ${arr.length})`);
      return undefined;
    }
    return arr;
  }

  /** An array of exactly `n` numbers (n unknown: any non-empty length). */
  table(value: unknown, path: string, n: number | undefined, rule: NumRule = {}): number[] | undefined {
    if (!Array.isArray(value)) {
      this.add(path, `must be an array of numbers (got ${typeName(value)})`);
      return undefined;
    }
    if (n !== undefined && value.length !== n) {
      this.add(path, `must have one entry per atom: ${n} (got ${value.length})`);
      return undefined;
    }
    if (value.length === 0) {
      this.add(path, 'must not be empty');
      return undefined;
    }
    // Report at most a few bad entries of a long table: one line per atom helps nobody.
    let bad = 0;
    const before = this.issues.length;
    for (let i = 0; i < value.length; i++) {
      if (this.number(value[i], `${path}/${i}`, rule) === undefined) bad++;
    }
    if (bad > 3) {
      this.issues.splice(before + 3);
      this.add(path, `${bad} invalid entries in all (first 3 shown)`);
    }
    return bad === 0 ? (value as number[]) : undefined;
  }
}

interface SupportInfo {
  support: NormalizedSupport;
  d: number;
  n: number;
}

function checkSupport(c: Checker, value: unknown): SupportInfo | undefined {
  const path = '/support';
  const o = c.object(value, path, ['kind', 'min', 'max', 'n', 'points']);
  if (!o) return undefined;
  const kind = c.kind(o, path, ['grid', 'points', 'atoms'] as const);
  if (!kind) return undefined;
  const allowed: Record<typeof kind, string[]> = { grid: ['min', 'max', 'n'], points: ['points'], atoms: ['n'] };
  for (const key of ['min', 'max', 'n', 'points']) {
    if (o[key] !== undefined && !allowed[kind].includes(key)) {
      c.add(`${path}/${key}`, `unknown field "${key}" for support kind "${kind}"`);
    }
  }
  for (const key of allowed[kind]) if (o[key] === undefined) c.add(`${path}/${key}`, 'is required');

  if (kind === 'atoms') {
    if (o.n === undefined) return undefined;
    const n = c.number(o.n, `${path}/n`, { integer: true, min: 1, max: MAX_ATOMS });
    return n === undefined ? undefined : { support: { kind: 'atoms', n }, d: 0, n };
  }

  if (kind === 'points') {
    if (o.points === undefined) return undefined;
    if (!Array.isArray(o.points) || o.points.length === 0) {
      c.add(`${path}/points`, Array.isArray(o.points) ? 'must not be empty' : `must be an array of points (got ${typeName(o.points)})`);
      return undefined;
    }
    if (o.points.length > MAX_ATOMS) {
      c.add(`${path}/points`, `must have at most ${MAX_ATOMS} points (got ${o.points.length})`);
      return undefined;
    }
    let d: number | undefined;
    let ok = true;
    const points: number[][] = [];
    o.points.forEach((pt, i) => {
      const v = c.vector(pt, `${path}/points/${i}`, d, 'coordinates like the first point');
      if (!v) ok = false;
      else {
        d ??= v.length;
        points.push(v);
      }
    });
    if (!ok || d === undefined) return undefined;
    return { support: { kind: 'points', points }, d, n: points.length };
  }

  // grid
  if (o.min === undefined || o.max === undefined || o.n === undefined) return undefined;
  const nv = c.vector(o.n, `${path}/n`, undefined, 'entries', { integer: true, min: 1 });
  let d = nv?.length;
  if (d !== undefined && d > 3) {
    c.add(`${path}/n`, `grids have 1 to 3 dimensions (got ${d})`);
    d = undefined;
  }
  const min = c.vector(o.min, `${path}/min`, d, 'entries (one per axis, like n)');
  const max = c.vector(o.max, `${path}/max`, d, 'entries (one per axis, like n)');
  if (!nv || !min || !max || d === undefined) return undefined;
  let ok = true;
  for (let k = 0; k < d; k++) {
    if (!(max[k] > min[k])) {
      c.add(typeof o.max === 'number' ? `${path}/max` : `${path}/max/${k}`, `must be > min (got ${max[k]} <= ${min[k]})`);
      ok = false;
    }
  }
  const support: NormalizedSupport = { kind: 'grid', min, max, n: nv };
  const n = supportSize(support);
  if (n > MAX_ATOMS) {
    c.add(`${path}/n`, `grid has ${n} atoms, more than the maximum ${MAX_ATOMS}`);
    ok = false;
  }
  return ok ? { support, d, n } : undefined;
}

function checkInit(c: Checker, value: unknown, si: SupportInfo | undefined): NormalizedInit | undefined {
  if (value === undefined) return { kind: 'uniform' };
  const path = '/init';
  const o = c.object(value, path, ['kind', 'mean', 'sd', 'components', 'values']);
  if (!o) return undefined;
  const kind = c.kind(o, path, ['uniform', 'gaussian', 'mixture', 'table'] as const);
  if (!kind) return undefined;
  const fields: Record<typeof kind, string[]> = {
    uniform: [],
    gaussian: ['mean', 'sd'],
    mixture: ['components'],
    table: ['values'],
  };
  for (const key of ['mean', 'sd', 'components', 'values']) {
    if (o[key] !== undefined && !fields[kind].includes(key)) c.add(`${path}/${key}`, `unknown field "${key}" for init kind "${kind}"`);
  }
  for (const key of fields[kind]) if (o[key] === undefined) c.add(`${path}/${key}`, 'is required');
  if ((kind === 'gaussian' || kind === 'mixture') && si?.support.kind === 'atoms') {
    c.add(`${path}/kind`, `"${kind}" needs a support with coordinates (atoms allow "uniform" or "table")`);
    return undefined;
  }
  const d = si?.d;
  switch (kind) {
    case 'uniform':
      return { kind };
    case 'gaussian': {
      if (o.mean === undefined || o.sd === undefined) return undefined;
      const mean = c.vector(o.mean, `${path}/mean`, d);
      const sd = c.number(o.sd, `${path}/sd`, { exclusiveMin: 0 });
      return mean && sd !== undefined ? { kind, mean, sd } : undefined;
    }
    case 'mixture': {
      if (o.components === undefined) return undefined;
      if (!Array.isArray(o.components) || o.components.length === 0) {
        c.add(`${path}/components`, Array.isArray(o.components) ? 'must not be empty' : `must be an array (got ${typeName(o.components)})`);
        return undefined;
      }
      let ok = true;
      const components: { mean: number[]; sd: number; weight: number }[] = [];
      o.components.forEach((comp, i) => {
        const p = `${path}/components/${i}`;
        const co = c.object(comp, p, ['mean', 'sd', 'weight'], ['mean', 'sd', 'weight']);
        if (!co || co.mean === undefined || co.sd === undefined || co.weight === undefined) {
          ok = false;
          return;
        }
        const mean = c.vector(co.mean, `${p}/mean`, d);
        const sd = c.number(co.sd, `${p}/sd`, { exclusiveMin: 0 });
        const weight = c.number(co.weight, `${p}/weight`, { min: 0 });
        if (!mean || sd === undefined || weight === undefined) ok = false;
        else components.push({ mean, sd, weight });
      });
      if (!ok) return undefined;
      if (components.every((x) => x.weight === 0)) {
        c.add(`${path}/components`, 'component weights must not all be 0');
        return undefined;
      }
      return { kind, components };
    }
    case 'table': {
      if (o.values === undefined) return undefined;
      const values = c.table(o.values, `${path}/values`, si?.n, { min: 0 });
      if (!values) return undefined;
      if (values.every((x) => x === 0)) {
        c.add(`${path}/values`, 'must not all be 0 (p_0 needs some mass)');
        return undefined;
      }
      return { kind, values: values.slice() };
    }
  }
}

function checkClip(c: Checker, value: unknown, path: string): Clip | undefined | null {
  const o = c.object(value, path, ['min', 'max']);
  if (!o) return null;
  const clip: Clip = {};
  let ok = true;
  if (o.min !== undefined) {
    const v = c.number(o.min, `${path}/min`);
    if (v === undefined) ok = false;
    else clip.min = v;
  }
  if (o.max !== undefined) {
    const v = c.number(o.max, `${path}/max`);
    if (v === undefined) ok = false;
    else clip.max = v;
  }
  if (ok && clip.min !== undefined && clip.max !== undefined && clip.min > clip.max) {
    c.add(path, `min must be <= max (got ${clip.min} > ${clip.max})`);
    ok = false;
  }
  return ok ? clip : null;
}

/**
 * A reward with its own beta when it has one; `beta` is NaN otherwise and is
 * resolved to the run's beta once that is parsed.
 */
function checkReward(c: Checker, value: unknown, path: string, si: SupportInfo | undefined): NormalizedReward | undefined {
  const o = c.object(value, path, ['kind', 'center', 'scale', 'width', 'height', 'coef', 'bias', 'values', 'clip', 'beta']);
  if (!o) return undefined;
  const kind = c.kind(o, path, ['quadratic', 'abs', 'gaussian', 'linear', 'table'] as const);
  if (!kind) return undefined;
  const beta = c.optNumber(o, 'beta', path, NaN, { exclusiveMin: 0 });
  if (o.beta !== undefined && Number.isNaN(beta)) return undefined;
  const fields: Record<typeof kind, { req: string[]; opt: string[] }> = {
    quadratic: { req: ['center'], opt: ['scale'] },
    abs: { req: ['center'], opt: ['scale'] },
    gaussian: { req: ['center', 'width'], opt: ['height'] },
    linear: { req: ['coef'], opt: ['bias'] },
    table: { req: ['values'], opt: [] },
  };
  const f = fields[kind];
  for (const key of ['center', 'scale', 'width', 'height', 'coef', 'bias', 'values']) {
    if (o[key] !== undefined && !f.req.includes(key) && !f.opt.includes(key)) {
      c.add(`${path}/${key}`, `unknown field "${key}" for reward kind "${kind}"`);
    }
  }
  for (const key of f.req) if (o[key] === undefined) c.add(`${path}/${key}`, 'is required');
  const clip = o.clip === undefined ? undefined : checkClip(c, o.clip, `${path}/clip`);
  if (clip === null) return undefined;
  if (kind !== 'table' && si?.support.kind === 'atoms') {
    c.add(`${path}/kind`, `"${kind}" needs a support with coordinates (atoms support needs table rewards)`);
    return undefined;
  }
  if (f.req.some((key) => o[key] === undefined)) return undefined;
  const d = si?.d;
  const withClip = <T extends object>(r: T): T & { clip?: Clip; beta: number } => (clip ? { ...r, clip, beta } : { ...r, beta });
  switch (kind) {
    case 'quadratic':
    case 'abs': {
      const center = c.vector(o.center, `${path}/center`, d);
      const scale = c.optNumber(o, 'scale', path, 1);
      return center && !Number.isNaN(scale) ? withClip({ kind, center, scale }) : undefined;
    }
    case 'gaussian': {
      const center = c.vector(o.center, `${path}/center`, d);
      const width = c.number(o.width, `${path}/width`, { exclusiveMin: 0 });
      const height = c.optNumber(o, 'height', path, 1);
      return center && width !== undefined && !Number.isNaN(height) ? withClip({ kind, center, width, height }) : undefined;
    }
    case 'linear': {
      const coef = c.vector(o.coef, `${path}/coef`, d);
      const bias = c.optNumber(o, 'bias', path, 0);
      return coef && !Number.isNaN(bias) ? withClip({ kind, coef, bias }) : undefined;
    }
    case 'table': {
      const values = c.table(o.values, `${path}/values`, si?.n);
      return values ? withClip({ kind, values: values.slice() }) : undefined;
    }
  }
}

function checkModel(c: Checker, value: unknown, si: SupportInfo | undefined): NormalizedModel | undefined {
  if (value === undefined) return DEFAULTS.model;
  const path = '/model';
  const o = c.object(value, path, ['kind', 'bandwidth', 'minSd', 'components', 'emSteps']);
  if (!o) return undefined;
  const kind = c.kind(o, path, ['exact', 'kernel', 'gaussian', 'mixture'] as const);
  if (!kind) return undefined;
  const fields: Record<typeof kind, { req: string[]; opt: string[] }> = {
    exact: { req: [], opt: [] },
    kernel: { req: ['bandwidth'], opt: [] },
    gaussian: { req: [], opt: ['minSd'] },
    mixture: { req: ['components'], opt: ['emSteps', 'minSd'] },
  };
  const f = fields[kind];
  for (const key of ['bandwidth', 'minSd', 'components', 'emSteps']) {
    if (o[key] !== undefined && !f.req.includes(key) && !f.opt.includes(key)) c.add(`${path}/${key}`, `unknown field "${key}" for model kind "${kind}"`);
  }
  for (const key of f.req) if (o[key] === undefined) c.add(`${path}/${key}`, 'is required');
  if (kind !== 'exact' && si?.support.kind === 'atoms') {
    c.add(`${path}/kind`, `"${kind}" needs a support with coordinates (a grid or points; an atoms support allows only "exact")`);
    return undefined;
  }
  if (f.req.some((key) => o[key] === undefined)) return undefined;
  switch (kind) {
    case 'exact':
      return { kind };
    case 'kernel': {
      const bandwidth = c.number(o.bandwidth, `${path}/bandwidth`, { exclusiveMin: 0 });
      return bandwidth === undefined ? undefined : { kind, bandwidth };
    }
    case 'gaussian': {
      const minSd = c.optNumber(o, 'minSd', path, DEFAULTS.minSd, { exclusiveMin: 0 });
      return Number.isNaN(minSd) ? undefined : { kind, minSd };
    }
    case 'mixture': {
      const components = c.number(o.components, `${path}/components`, { integer: true, min: 1 });
      const emSteps = c.optNumber(o, 'emSteps', path, DEFAULTS.emSteps, { integer: true, min: 1 });
      const minSd = c.optNumber(o, 'minSd', path, DEFAULTS.minSd, { exclusiveMin: 0 });
      if (components === undefined || Number.isNaN(emSteps) || Number.isNaN(minSd)) return undefined;
      if (si && components > si.n) {
        c.add(`${path}/components`, `must be at most the number of atoms: ${si.n} (got ${components})`);
        return undefined;
      }
      return { kind, components, emSteps, minSd };
    }
  }
}

function checkWeights(c: Checker, o: Obj, m: number | undefined): number[] | undefined {
  if (o.weights !== undefined && o.q !== undefined) {
    c.add('/q', 'not allowed together with weights');
    return undefined;
  }
  if (o.q !== undefined) {
    const q = c.number(o.q, '/q', { exclusiveMin: 0, exclusiveMax: 1 });
    if (m !== undefined && m !== 2) {
      c.add('/q', `needs exactly 2 rewards (got ${m})`);
      return undefined;
    }
    return q === undefined ? undefined : [q, 1 - q];
  }
  if (o.weights === undefined) return m === undefined ? undefined : new Array(m).fill(1 / m);
  if (!Array.isArray(o.weights)) {
    c.add('/weights', `must be an array of numbers (got ${typeName(o.weights)})`);
    return undefined;
  }
  let ok = true;
  const w: number[] = [];
  o.weights.forEach((x, i) => {
    const v = c.number(x, `/weights/${i}`, { exclusiveMin: 0 });
    if (v === undefined) ok = false;
    else w.push(v);
  });
  if (m !== undefined && o.weights.length !== m) {
    c.add('/weights', `must have one weight per reward: ${m} (got ${o.weights.length})`);
    ok = false;
  }
  if (!ok) return undefined;
  const sum = w.reduce((a, b) => a + b, 0);
  if (!(Math.abs(sum - 1) <= WEIGHT_SUM_TOLERANCE)) {
    c.add('/weights', `must sum to 1 within ${WEIGHT_SUM_TOLERANCE} (got ${sum})`);
    return undefined;
  }
  return w.map((x) => x / sum);
}

function checkK(c: Checker, value: unknown): number | 'inf' | undefined {
  if (value === undefined) return DEFAULTS.K;
  if (value === 'inf') return 'inf';
  if (typeof value === 'number' && Number.isSafeInteger(value)) {
    if (value < 2) {
      c.add('/K', `must be >= 2 (got ${value})`);
      return undefined;
    }
    return value;
  }
  c.add('/K', `must be an integer >= 2 or "inf" (got ${show(value)})`);
  return undefined;
}

export type ValidationResult =
  | { ok: true; config: NormalizedConfig; cost: CostEstimate }
  | { ok: false; issues: ConfigIssue[] };

export interface ValidateOptions {
  /** Budget in estimated CPU seconds (default DEFAULT_MAX_COST_SECONDS; Infinity disables the check). */
  maxCostSeconds?: number;
  /**
   * Evaluate every reward over the support to refuse non-finite values (default true).
   * This is O(n m): callers that only need the normalised form or the cost of a
   * configuration already checked in full (the worker before hashing, the enqueuer
   * when packing jobs) skip it; `simulate` always checks.
   */
  checkValues?: boolean;
}

/**
 * Checks a configuration against the whole contract and fills in its defaults.
 * Reports every problem it can find; checks that depend on a broken part (the
 * length of a table when n is unknown) are skipped rather than guessed.
 */
export function validateConfig(input: unknown, opts: ValidateOptions = {}): ValidationResult {
  const c = new Checker();
  const o = c.object(input, '', ROOT_FIELDS, ['support', 'rewards']);
  if (!o) return { ok: false, issues: c.issues };

  const si = o.support === undefined ? undefined : checkSupport(c, o.support);
  const init = checkInit(c, o.init, si);

  let rewards: (NormalizedReward | undefined)[] | undefined;
  let m: number | undefined;
  if (o.rewards !== undefined) {
    if (!Array.isArray(o.rewards)) c.add('/rewards', `must be an array of rewards (got ${typeName(o.rewards)})`);
    else if (o.rewards.length === 0) c.add('/rewards', 'must have at least 1 reward');
    else {
      m = o.rewards.length;
      rewards = o.rewards.map((r, i) => checkReward(c, r, `/rewards/${i}`, si));
    }
  }
  const weights = checkWeights(c, o, m);
  const K = checkK(c, o.K);
  const beta = c.optNumber(o, 'beta', '', DEFAULTS.beta, { min: 0 });
  if (rewards && !Number.isNaN(beta)) for (const r of rewards) if (r && Number.isNaN(r.beta)) r.beta = beta;
  const model = checkModel(c, o.model, si);
  let retrain: 'replace' | 'accumulate' | undefined = DEFAULTS.retrain;
  if (o.retrain !== undefined) {
    if (o.retrain === 'replace' || o.retrain === 'accumulate') retrain = o.retrain;
    else {
      c.add('/retrain', `must be "replace" or "accumulate" (got ${show(o.retrain)})`);
      retrain = undefined;
    }
  }
  const realFraction = c.optNumber(o, 'realFraction', '', DEFAULTS.realFraction, { min: 0, exclusiveMax: 1 });
  const iterations = c.optNumber(o, 'iterations', '', DEFAULTS.iterations, { integer: true, min: 0 });
  let mode: 'exact' | 'sampled' | undefined = DEFAULTS.mode;
  if (o.mode !== undefined) {
    if (o.mode === 'exact' || o.mode === 'sampled') mode = o.mode;
    else {
      c.add('/mode', `must be "exact" or "sampled" (got ${show(o.mode)})`);
      mode = undefined;
    }
  }
  const samples = c.optNumber(o, 'samples', '', DEFAULTS.samples, { integer: true, min: 1, max: MAX_SAMPLES });
  const seed = c.optNumber(o, 'seed', '', DEFAULTS.seed, { integer: true });
  const eps = c.optNumber(o, 'eps', '', DEFAULTS.eps, { min: 0 });
  const tol = c.optNumber(o, 'tol', '', DEFAULTS.tol, { min: 0 });
  const recordEvery = c.optNumber(o, 'recordEvery', '', DEFAULTS.recordEvery, { integer: true, min: 1 });
  if (c.issues.length > 0) return { ok: false, issues: c.issues };

  // Everything parsed: the remaining checks need the values over X.
  const config: NormalizedConfig = {
    support: si!.support,
    init: init!,
    rewards: rewards as NormalizedReward[],
    weights: weights!,
    K: K!,
    beta,
    realFraction,
    iterations,
    mode: mode!,
    samples,
    seed,
    eps,
    tol,
    recordEvery,
    model: model!,
    retrain: retrain!,
    d: si!.d,
    n: si!.n,
    m: m!,
  };
  const sp = opts.checkValues === false ? undefined : supportForCheck(config.support);
  if (sp) config.rewards.forEach((r, i) => {
    const v = rewardValues(r, sp, scratchFor(sp.n));
    for (let j = 0; j < sp.n; j++) {
      if (!Number.isFinite(v[j])) {
        c.add(`/rewards/${i}`, `gives a non-finite value (${v[j]}) at atom ${j}`);
        break;
      }
    }
  });
  if (c.issues.length > 0) return { ok: false, issues: c.issues };

  const cost = estimateCost(config);
  const budget = opts.maxCostSeconds ?? DEFAULT_MAX_COST_SECONDS;
  if (cost.seconds > budget) {
    const kText = config.K === 'inf' ? 'inf' : String(config.K);
    const work = config.mode === 'sampled' ? `N=${config.samples}, K=${kText}` : `n=${config.n}, m=${config.m}, K=${kText}`;
    c.add(
      '',
      `too expensive for one job: estimated ${formatSeconds(cost.seconds)} of CPU, over the budget of ${formatSeconds(budget)} ` +
        `(${work}, T=${config.iterations}, mode=${config.mode})`,
    );
    return { ok: false, issues: c.issues };
  }
  return { ok: true, config, cost };
}

// A sweep validates thousands of configurations that share one grid: the last grid's
// points and one scratch buffer are kept, so validation allocates nothing O(n) per
// configuration (at n = 4001 that garbage and its collection were a large share of
// the API's CPU for a submission). Only up to KEEP_ATOMS, so that one huge
// configuration does not pin hundreds of megabytes in a long-lived process.
const KEEP_ATOMS = 1 << 20;
let lastGrid: { key: string; sp: SupportPoints } | undefined;
let scratch: Float64Array = new Float64Array(0);

function supportForCheck(s: NormalizedSupport): SupportPoints {
  if (s.kind !== 'grid' || supportSize(s) > KEEP_ATOMS) return buildSupport(s);
  const key = `${s.min.join()}|${s.max.join()}|${s.n.join()}`;
  if (lastGrid?.key !== key) lastGrid = { key, sp: buildSupport(s) };
  return lastGrid.sp;
}

function scratchFor(n: number): Float64Array {
  if (n > KEEP_ATOMS) return new Float64Array(n);
  if (scratch.length < n) scratch = new Float64Array(n);
  return scratch;
}

function formatSeconds(s: number): string {
  if (s < 10) return `${s.toPrecision(2)} s`;
  if (s < 3600) return `${Math.round(s)} s`;
  return `${(s / 3600).toPrecision(3)} h`;
}
