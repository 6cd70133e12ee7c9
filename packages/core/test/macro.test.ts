// Per-generation quantities of contract 2 against brute force: the macro state's
// shareStep at every generation, the B.4 outsideDomination over every outside atom
// and generation, retrain "accumulate" against a direct loop, and sampled mode with
// K = inf (deterministic, and drawing from p e^s / Z).
import { describe, expect, it } from 'vitest';
import { validateConfig, simulate, type RunConfig } from '../src/index.ts';
import { buildSupport } from '../src/support.ts';
import { buildInit } from '../src/init.ts';
import { allRewardValues } from '../src/rewards.ts';
import { buildBasins } from '../src/metrics.ts';
import { createStepper } from '../src/dynamics-general.ts';
import type { Stepper } from '../src/dynamics-exact.ts';
import { naiveStep } from './naive-reference.ts';

function setup(config: RunConfig) {
  const v = validateConfig(config, { maxCostSeconds: Infinity });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  const c = v.config;
  const sp = buildSupport(c.support);
  const p0 = buildInit(c.init, sp);
  const rewards = allRewardValues(c.rewards, sp);
  const s = rewards.map((r, i) => r.map((x) => c.rewards[i].beta * x));
  const basins = buildBasins(rewards, c.eps);
  return { c, sp, p0, rewards, s, basins };
}

/** (mass[0..m-1], outside) of p, summed plainly. */
function macroOf(p: Float64Array, basins: ReturnType<typeof buildBasins>): number[] {
  const M = new Array(basins.m + 1).fill(0);
  for (let j = 0; j < p.length; j++) {
    let inAny = false;
    for (let i = 0; i < basins.m; i++) {
      if (basins.member[i][j]) {
        M[i] += p[j];
        inAny = true;
      }
    }
    if (!inAny) M[basins.m] += p[j];
  }
  return M;
}

/** max over outside atoms of sum_i w_i e^{s_i(x)} / sum_y p(y) e^{s_i(y)}, with the plain max shift. */
function bruteDomination(p: Float64Array, s: Float64Array[], w: number[], basins: ReturnType<typeof buildBasins>): number {
  const n = p.length;
  const logZ = s.map((si) => {
    let top = -Infinity;
    for (let j = 0; j < n; j++) if (p[j] > 0) top = Math.max(top, si[j]);
    let z = 0;
    for (let j = 0; j < n; j++) z += p[j] * Math.exp(si[j] - top);
    return top + Math.log(z);
  });
  let best = -Infinity;
  for (let j = 0; j < n; j++) {
    if (basins.member[0][j] || basins.member[1][j]) continue;
    const W = w[0] * Math.exp(s[0][j] - logZ[0]) + w[1] * Math.exp(s[1][j] - logZ[1]);
    best = Math.max(best, W);
  }
  return best;
}

const twoWells: RunConfig = {
  support: { kind: 'grid', min: -6, max: 6, n: 241 },
  rewards: [{ kind: 'quadratic', center: -1.5 }, { kind: 'quadratic', center: 1.5, scale: 2 }],
  q: 0.3,
  eps: 0.2,
};

const CASES: [string, RunConfig][] = [
  ['K = inf, m = 2', twoWells],
  ['K = inf, m = 2, real data', { ...twoWells, realFraction: 0.2 }],
  ['K = inf, m = 2, overlapping basins', { ...twoWells, rewards: [{ kind: 'abs', center: -0.5 }, { kind: 'abs', center: 0.5 }], eps: 1.5 }],
  ['K = inf, m = 1', { ...twoWells, rewards: [twoWells.rewards[0]], q: undefined }],
  ['K = inf, m = 3, per-reward beta', { ...twoWells, q: undefined, rewards: [...twoWells.rewards, { kind: 'gaussian', center: 4, width: 0.5, height: 2, beta: 3 }] }],
  ['K = 3, m = 2', { ...twoWells, K: 3 }],
  ['sampled K = 4, m = 2', { ...twoWells, mode: 'sampled', K: 4, samples: 3000, seed: 2 }],
  ['sampled K = inf, m = 2', { ...twoWells, mode: 'sampled', samples: 3000, seed: 2 }],
  ['kernel model, accumulate, K = inf', { ...twoWells, model: { kind: 'kernel', bandwidth: 0.2 }, retrain: 'accumulate' }],
  ['mixture model, K = 2', { ...twoWells, K: 2, model: { kind: 'mixture', components: 2 } }],
  ['gaussian model, sampled K = inf', { ...twoWells, mode: 'sampled', samples: 2000, model: { kind: 'gaussian' } }],
];

describe('shareStep and outsideDomination at every generation, against brute force', () => {
  for (const [name, config] of CASES) {
    it(name, () => {
      const T = 30;
      const { c, p0, s, basins } = setup({ ...config, iterations: T });
      for (const recordEvery of [1, 7]) {
        const stepper: Stepper = createStepper(c, p0, s, basins);
        let prev = macroOf(stepper.p, basins);
        let dom = -Infinity;
        let largest = 0;
        for (let t = 1; t <= T; t++) {
          if (c.m === 2) dom = Math.max(dom, bruteDomination(stepper.p, s, c.weights, basins));
          stepper.advance(t % recordEvery === 0);
          const cur = macroOf(stepper.p, basins);
          const naive = Math.max(...cur.map((x, i) => Math.abs(x - prev[i])));
          // The naive step differences two sums of ~n roundings each; the stepper sums the changes.
          expect(Math.abs(stepper.shareStep - naive)).toBeLessThan(1e-14);
          expect(Math.abs(stepper.outside - cur[c.m])).toBeLessThan(1e-14);
          largest = Math.max(largest, naive);
          prev = cur;
        }
        expect(largest).toBeGreaterThan(1e-4);
        if (c.m === 2) {
          expect(stepper.outsideDomination).not.toBeNull();
          expect(Math.abs(stepper.outsideDomination! - dom) / dom).toBeLessThan(1e-13);
        } else expect(stepper.outsideDomination).toBeNull();
      }
    });
  }

  it('outsideDomination on scattered outside atoms (random table rewards, wide score range)', () => {
    let x = 12345;
    const r = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 4294967296);
    const n = 400;
    const a = Array.from({ length: n }, () => 40 * r() - 30);
    const b = Array.from({ length: n }, () => 40 * r() - 30);
    a[0] = 20; // basin of reward 1
    b[1] = 20; // basin of reward 2
    // Half the atoms start without mass: they count all the same.
    const init = Array.from({ length: n }, (_, j) => (j % 2 === 0 || j < 2 ? 1 + r() : 0));
    for (const beta of [0.3, 5, 40]) {
      const { c, p0, s, basins } = setup({
        support: { kind: 'atoms', n },
        init: { kind: 'table', values: init },
        rewards: [{ kind: 'table', values: a, beta }, { kind: 'table', values: b }],
        q: 0.35,
        eps: 0.5,
        iterations: 25,
      });
      const stepper = createStepper(c, p0, s, basins);
      let dom = -Infinity;
      for (let t = 0; t < 25; t++) {
        dom = Math.max(dom, bruteDomination(stepper.p, s, c.weights, basins));
        stepper.advance(false);
      }
      expect(Math.abs(stepper.outsideDomination! - dom) / dom).toBeLessThan(1e-13);
    }
  });

  it('is null when every atom is in a basin or before any generation', () => {
    const { c, p0, s, basins } = setup({ support: { kind: 'atoms', n: 2 }, rewards: [{ kind: 'table', values: [1, 0] }, { kind: 'table', values: [0, 1] }] });
    const st = createStepper(c, p0, s, basins);
    st.advance();
    expect(st.outsideDomination).toBeNull();
    const w = setup(twoWells);
    expect(createStepper(w.c, w.p0, w.s, w.basins).outsideDomination).toBeNull();
  });
});

describe('retrain "accumulate" against a direct loop', () => {
  for (const K of ['inf', 2, 3] as const) {
    it(`K = ${K}, with real data`, () => {
      const config: RunConfig = {
        support: { kind: 'grid', min: -2, max: 2, n: 9 },
        init: { kind: 'gaussian', mean: 0.5, sd: 1 },
        rewards: [{ kind: 'quadratic', center: -1 }, { kind: 'linear', coef: 1, beta: 0.5 }],
        q: 0.6,
        K,
        realFraction: 0.15,
        retrain: 'accumulate',
        iterations: 12,
      };
      const { c, p0, s } = setup(config);
      const out = simulate(config, { includeDistribution: true });
      const P0 = Array.from(p0);
      let p = P0.slice();
      const sum = new Array(p.length).fill(0);
      const S = s.map((x) => Array.from(x));
      for (let t = 0; t < 12; t++) {
        // naiveStep with lambda = 0 is p~_t itself.
        const tilde = naiveStep(p, P0, S, c.weights, K, 0);
        tilde.forEach((v, j) => (sum[j] += v));
        p = sum.map((v, j) => c.realFraction * P0[j] + (1 - c.realFraction) * (v / (t + 1)));
      }
      p.forEach((v, j) => expect(Math.abs(out.distribution![j] - v)).toBeLessThan(1e-13));
    });
  }
});

describe('sampled mode with K = inf', () => {
  const config: RunConfig = {
    support: { kind: 'grid', min: -3, max: 3, n: 13 },
    rewards: [{ kind: 'quadratic', center: -1 }, { kind: 'abs', center: 1.5, beta: 2 }],
    q: 0.3,
    mode: 'sampled',
    samples: 500,
    seed: 42,
    iterations: 20,
  };

  it('is bit-identical for the same config and seed, and changes with the seed', () => {
    const a = simulate(config, { includeDistribution: true });
    const b = simulate(config, { includeDistribution: true });
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    const c = simulate({ ...config, seed: 43 }, { includeDistribution: true });
    expect(c.distribution).not.toEqual(a.distribution);
    expect(a.generator).toMatch(/xoshiro/);
  });

  it('one generation draws each kept sample from sum_i w_i p e^{s_i} / Z_i', () => {
    const N = 400_000;
    const { c, p0, s, basins } = setup({ ...config, samples: N, iterations: 1 });
    const st = createStepper(c, p0, s, basins);
    st.advance();
    const expected = naiveStep(Array.from(p0), Array.from(p0), s.map((x) => Array.from(x)), c.weights, 'inf', 0);
    // Binomial noise: within 5 standard deviations at every atom.
    expected.forEach((q, j) => expect(Math.abs(st.p[j] - q)).toBeLessThan(5 * Math.sqrt((q * (1 - q)) / N) + 1e-12));
  });

  it('sampled with a model, accumulate and real data is deterministic too, and keeps every atom alive through the kernel', () => {
    const cfg: RunConfig = { ...config, K: 3, model: { kind: 'kernel', bandwidth: 0.5 }, retrain: 'accumulate', realFraction: 0.1, samples: 200 };
    const a = simulate(cfg, { includeDistribution: true });
    expect(JSON.stringify(simulate(cfg, { includeDistribution: true }))).toBe(JSON.stringify(a));
    expect(a.distribution!.every((x) => x > 0)).toBe(true);
    expect(Math.abs(a.distribution!.reduce((x, y) => x + y, 0) - 1)).toBeLessThan(1e-12);
  });

  it('an atom that drew no sample is gone for good without real data', () => {
    const out = simulate({ ...config, samples: 50, iterations: 40 }, { includeDistribution: true });
    expect(out.distribution!.filter((x) => x > 0).length).toBeLessThan(13);
  });
});
