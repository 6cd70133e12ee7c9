// The cost and memory estimates cover contract 2's model families, accumulate and
// sampled K = inf, so budgets and refusals stay honest.
import { describe, expect, it } from 'vitest';
import { estimateMemoryBytes, validateConfig, type RunConfig } from '../src/index.ts';

const base: RunConfig = {
  support: { kind: 'grid', min: -12, max: 12, n: 4001 },
  rewards: [{ kind: 'quadratic', center: -2 }, { kind: 'quadratic', center: 2 }],
  q: 0.3,
  iterations: 1000,
};

function cost(extra: Partial<RunConfig>): number {
  const v = validateConfig({ ...base, ...extra }, { maxCostSeconds: Infinity });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return v.cost.seconds;
}

function memory(extra: Partial<RunConfig>): number {
  const v = validateConfig({ ...base, ...extra }, { maxCostSeconds: Infinity });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return estimateMemoryBytes(v.config);
}

describe('cost estimate of contract 2 runs', () => {
  it('charges every model family more than the bare K = inf step, and accumulate too', () => {
    const plain = cost({});
    for (const model of [
      { kind: 'kernel', bandwidth: 0.1 },
      { kind: 'gaussian' },
      { kind: 'mixture', components: 2 },
    ] as const) {
      expect(cost({ model })).toBeGreaterThan(2 * plain);
    }
    expect(cost({ retrain: 'accumulate' })).toBeGreaterThan(plain);
  });

  it('a kernel costs in proportion to its window, a mixture to k and to its EM steps', () => {
    expect(cost({ model: { kind: 'kernel', bandwidth: 1 } })).toBeGreaterThan(5 * cost({ model: { kind: 'kernel', bandwidth: 0.1 } }));
    expect(cost({ model: { kind: 'mixture', components: 4 } })).toBeGreaterThan(1.8 * cost({ model: { kind: 'mixture', components: 2 } }));
    expect(cost({ model: { kind: 'mixture', components: 2, emSteps: 5 } })).toBeGreaterThan(2.5 * cost({ model: { kind: 'mixture', components: 2 } }));
  });

  it('a points kernel is quadratic in the atoms', () => {
    const pts = (n: number) => ({ kind: 'points' as const, points: Array.from({ length: n }, (_, j) => [j / n]) });
    const a = cost({ support: pts(500), rewards: [{ kind: 'linear', coef: 1 }], q: undefined, model: { kind: 'kernel', bandwidth: 0.1 } });
    const b = cost({ support: pts(1000), rewards: [{ kind: 'linear', coef: 1 }], q: undefined, model: { kind: 'kernel', bandwidth: 0.1 } });
    expect(b / a).toBeGreaterThan(3);
  });

  it('sampled K = inf is charged per draw and per alias table', () => {
    const a = cost({ mode: 'sampled', samples: 1000 });
    expect(cost({ mode: 'sampled', samples: 100_000 })).toBeGreaterThan(10 * a);
    expect(a).toBeGreaterThan(0);
  });

  it('per-reward beta drives the finite-K layout like the run beta', () => {
    const one = cost({ K: 4, rewards: [{ kind: 'quadratic', center: -2 }, { kind: 'quadratic', center: 2 }] });
    const hot = cost({ K: 4, rewards: [{ kind: 'quadratic', center: -2, beta: 100 }, { kind: 'quadratic', center: 2 }] });
    expect(hot).toBeGreaterThan(one);
  });

  it('refuses a wide kernel on a fine 3-D grid over the budget, with the reason', () => {
    const v = validateConfig({
      support: { kind: 'grid', min: [0, 0, 0], max: [1, 1, 1], n: [100, 100, 100] },
      rewards: [{ kind: 'linear', coef: [1, 0, 0] }],
      model: { kind: 'kernel', bandwidth: 0.3 },
      iterations: 1000,
    });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.issues[0].message).toMatch(/too expensive/);
  });
});

describe('estimateMemoryBytes', () => {
  it('grows with n, with finite K, with the samples and with a kept kernel matrix', () => {
    // recordEvery large: the recorded rows are not what this compares.
    const small = memory({ support: { kind: 'grid', min: -12, max: 12, n: 1000 }, recordEvery: 1000 });
    const big = memory({ recordEvery: 1000 });
    expect(big).toBeGreaterThan(3.5 * small);
    expect(big).toBeLessThan(4.5 * small);
    expect(memory({ K: 4, recordEvery: 1000 })).toBeGreaterThan(10 * big);
    expect(memory({ mode: 'sampled', samples: 10_000_000 })).toBeGreaterThan(8e7);
    const pts = { kind: 'points' as const, points: Array.from({ length: 2000 }, (_, j) => [j]) };
    const v = validateConfig({ support: pts, rewards: [{ kind: 'linear', coef: 1 }], model: { kind: 'kernel', bandwidth: 1 } }, { maxCostSeconds: Infinity });
    if (!v.ok) throw new Error('expected ok');
    expect(estimateMemoryBytes(v.config)).toBeGreaterThan(8 * 2000 * 2000);
  });

  it('is a plausible size for the usual run (a few hundred bytes per atom)', () => {
    const b = memory({});
    expect(b / 4001).toBeGreaterThan(50);
    expect(b / 4001).toBeLessThan(2000);
  });
});

