// Adaptive sweeps against full grids on real boundaries of the model, in-process with
// the core (no service): how many runs the refinement takes, how far its boundary lies
// from the full grid's at the same finest resolution (Hausdorff distance, in finest
// cells), and the wall times. Identical configurations are computed once, as the
// service's result store does (K = round(k) makes many lattice points share one).
//
//   npm run bench -- refine            (REFINE_FINEST=128 for a quicker run)
import { simulate } from '@curation/core';
import { compileSweep, hausdorff, readOutcome, type CompiledSweep, type PointValues } from '@curation/sweep-spec';

type Refined = CompiledSweep & { refine: NonNullable<CompiledSweep['refine']> };

const FINEST = Number(process.env.REFINE_FINEST ?? 256);
const START = 8;

const base = {
  support: { kind: 'grid', min: -6, max: 6, n: 21 },
  rewards: [{ kind: 'quadratic', center: -2 }, { kind: 'quadratic', center: 2 }],
  q: 0.1, K: 'inf', beta: 3, iterations: 80, eps: 0.5,
};

/** Two real boundaries: minority survival over q x K at finite K (near q K = 1), and where q = 0.1 loses its basin over D x beta. */
export const CASES = [
  {
    name: 'q x K (finite K), summary.collapsed',
    spec: {
      name: 'bench-qK',
      base,
      derive: { K: 'round(k)' },
      refine: {
        axes: [{ param: 'q', min: 0.02, max: 0.5, scale: 'log' }, { param: 'k', min: 2, max: 64, scale: 'log' }],
        start: START, finest: FINEST, budget: 100_000, outcome: { verdict: 'summary.collapsed' },
      },
    },
  },
  {
    name: 'D x beta (q = 0.1, K = inf), basinShare.0 = 0.05',
    spec: {
      name: 'bench-Dbeta',
      base: { ...base, rewards: [{ kind: 'quadratic', center: 0 }, { kind: 'quadratic', center: 0 }] },
      derive: { 'rewards.0.center': '-D/2', 'rewards.1.center': 'D/2' },
      refine: {
        axes: [{ param: 'D', min: 0.25, max: 6, scale: 'linear' }, { param: 'beta', min: 0.25, max: 8, scale: 'log' }],
        start: START, finest: FINEST, budget: 100_000, outcome: { metric: 'summary.basinShare.0', threshold: 0.05 },
      },
    },
  },
];

function makeEvaluator(compiled: Refined) {
  const cache = new Map<string, number | null>();
  let computed = 0;
  let computeMs = 0;
  const segs = compiled.refine.outcome.segs;
  return {
    value(key: number): number | null {
      const i = compiled.refine.lattice.runIndex(key, 0);
      const config = compiled.configAt(i) as Parameters<typeof simulate>[0];
      const id = JSON.stringify(config);
      let v = cache.get(id);
      if (v === undefined) {
        const t = performance.now();
        v = readOutcome(simulate(config).summary, segs);
        computeMs += performance.now() - t;
        computed++;
        cache.set(id, v);
      }
      return compiled.refine.aggregate([v]);
    },
    stats: () => ({ computed, computeMs }),
  };
}

export async function runRefineBench(): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const c of CASES) {
    const compiled = compileSweep(c.spec) as Refined;
    const plan = compiled.refine;
    const lat = plan.lattice;
    const ev = makeEvaluator(compiled);

    const t0 = performance.now();
    const values: PointValues = new Map();
    let keys = lat.startKeys();
    let stages = 0;
    let planMs = 0;
    while (keys.length) {
      for (const k of keys) values.set(k, ev.value(k));
      const tp = performance.now();
      keys = plan.nextStage(values, values.size).keys;
      planMs += performance.now() - tp;
      if (keys.length) stages++;
    }
    const refinedMs = performance.now() - t0;
    const refinedComputed = ev.stats().computed;
    const refined = plan.boundary(values);

    const t1 = performance.now();
    const all: PointValues = new Map();
    for (let x = 0; x <= lat.finest; x++) for (let y = 0; y <= lat.finest; y++) all.set(lat.key(x, y), ev.value(lat.key(x, y)));
    const fullMs = performance.now() - t1;
    const full = plan.boundary(all);
    const fullRuns = lat.side ** 2;
    const row = {
      boundary: c.name,
      finest: `1/${lat.finest}`,
      stages,
      refinedRuns: values.size,
      refinedComputed,
      fullRuns,
      fullComputed: ev.stats().computed,
      ratio: Number((fullRuns / values.size).toFixed(1)),
      hausdorffCells: Number(hausdorff(refined.lattice, full.lattice).toFixed(3)),
      lines: `${refined.lattice.length} / ${full.lattice.length}`,
      refinedSeconds: Number((refinedMs / 1000).toFixed(1)),
      ruleMs: Number(planMs.toFixed(1)),
      fullGridSeconds: Number((fullMs / 1000).toFixed(1)),
    };
    console.log(JSON.stringify(row));
    out.push(row);
  }
  console.table(out);
  return out;
}
