// The `config` output (section 7): the configuration exactly as it was run.
import type { ConfigAsRun, NormalizedConfig } from './types.ts';

type Obj = Record<string, unknown>;

/** Fields of each kind in the order the contract lists them; `kind` first. */
const SUPPORT_FIELDS: Record<string, string[]> = { grid: ['min', 'max', 'n'], points: ['points'], atoms: ['n'] };
const INIT_FIELDS: Record<string, string[]> = { uniform: [], gaussian: ['mean', 'sd'], mixture: ['components'], table: ['values'] };
const REWARD_FIELDS: Record<string, string[]> = {
  quadratic: ['center', 'scale'],
  abs: ['center', 'scale'],
  gaussian: ['center', 'width', 'height'],
  linear: ['coef', 'bias'],
  table: ['values'],
};
const MODEL_FIELDS: Record<string, string[]> = {
  exact: [],
  kernel: ['bandwidth'],
  gaussian: ['minSd'],
  mixture: ['components', 'emSteps', 'minSd'],
};

/** A deep copy (JSON data only) with `kind` first, then the listed fields, then any others. */
function ordered(o: Obj, fields: Record<string, string[]>): Obj {
  const out: Obj = { kind: o.kind };
  for (const k of fields[o.kind as string] ?? []) if (o[k] !== undefined) out[k] = copy(o[k]);
  for (const k of Object.keys(o)) if (!(k in out) && o[k] !== undefined) out[k] = copy(o[k]);
  return out;
}

function copy(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(copy);
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>);
  if (v !== null && typeof v === 'object') {
    const out: Obj = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = copy(x);
    return out;
  }
  return v;
}

/**
 * Every default filled in, weights divided by their sum (q already turned into
 * weights), every vector an array, each reward's beta resolved, and nothing
 * internal (d, n, m). Validating it again gives the same normalised config, so
 * feeding it back to simulate gives the same output. The key order is fixed.
 */
export function configAsRun(c: NormalizedConfig): ConfigAsRun {
  const cc = c as NormalizedConfig & { model?: Obj; retrain?: string };
  const rewards = c.rewards.map((r) => {
    const ro = r as unknown as Obj;
    const out: Obj = { kind: ro.kind };
    for (const k of REWARD_FIELDS[ro.kind as string] ?? []) if (ro[k] !== undefined) out[k] = copy(ro[k]);
    if (r.clip) {
      const clip: Obj = {};
      if (r.clip.min !== undefined) clip.min = r.clip.min;
      if (r.clip.max !== undefined) clip.max = r.clip.max;
      out.clip = clip;
    }
    out.beta = typeof ro.beta === 'number' ? ro.beta : c.beta;
    return out;
  });
  return {
    support: ordered(c.support as unknown as Obj, SUPPORT_FIELDS),
    init: ordered(c.init as unknown as Obj, INIT_FIELDS),
    rewards,
    weights: [...c.weights],
    K: c.K,
    beta: c.beta,
    realFraction: c.realFraction,
    iterations: c.iterations,
    mode: c.mode,
    samples: c.samples,
    seed: c.seed,
    eps: c.eps,
    tol: c.tol,
    recordEvery: c.recordEvery,
    model: cc.model ? ordered(cc.model, MODEL_FIELDS) : { kind: 'exact' },
    retrain: cc.retrain ?? 'replace',
  };
}
