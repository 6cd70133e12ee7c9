// The exact dynamics against an independent brute-force implementation and the
// structural properties of the curation multiplier (contract section 2).
import { describe, expect, it } from 'vitest';
import { FiniteKStepper, InfiniteKStepper, MIN_MASS } from '../src/dynamics-exact.ts';
import { FiniteKMultiplier } from '../src/finite-k.ts';
import { simulate } from '../src/index.ts';
import { naiveH, naiveStep } from './naive-reference.ts';

const p0 = [0.1, 0.25, 0.05, 0.3, 0.2, 0.1];
const s1 = [0.3, -1.2, 2.0, 0.7, -0.4, 1.1];
const s2 = [-0.5, 1.5, 0.1, -2.0, 0.9, 0.0];

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let j = 0; j < a.length; j++) m = Math.max(m, Math.abs(a[j] - b[j]) / Math.max(Math.abs(b[j]), 1e-300));
  return m;
}

describe('exact dynamics against brute-force enumeration', () => {
  for (const K of [2, 3, 4, 'inf'] as const) {
    for (const lambda of [0, 0.2]) {
      it(`K = ${K}, lambda = ${lambda}: 12 generations agree to 1e-12`, () => {
        const w = [0.35, 0.65];
        const stepper =
          K === 'inf'
            ? new InfiniteKStepper(Float64Array.from(p0), [Float64Array.from(s1), Float64Array.from(s2)], w, lambda)
            : new FiniteKStepper(Float64Array.from(p0), [Float64Array.from(s1), Float64Array.from(s2)], w, lambda, K);
        let ref = [...p0];
        for (let t = 0; t < 12; t++) {
          const prev = ref;
          ref = naiveStep(ref, p0, [s1, s2], w, K, lambda);
          const step = stepper.advance();
          const tv = 0.5 * ref.reduce((acc, v, j) => acc + Math.abs(v - prev[j]), 0);
          expect(Math.abs(step - tv)).toBeLessThan(1e-13);
        }
        expect(maxRelDiff(stepper.p, ref)).toBeLessThan(1e-12);
      });
    }
  }
});

describe('curation multiplier properties', () => {
  const p = Float64Array.from(p0);
  for (const K of [2, 3, 7, 50]) {
    it(`K = ${K}: sum p H = 1 and H matches enumeration or the K = 2 closed form`, () => {
      const H = new Float64Array(p.length);
      new FiniteKMultiplier(Float64Array.from(s1), K).compute(p, H);
      const total = H.reduce((acc, h, j) => acc + p[j] * h, 0);
      expect(Math.abs(total - 1)).toBeLessThan(1e-13);
      if (K <= 3) expect(maxRelDiff(H, naiveH(p0, s1, K))).toBeLessThan(1e-13);
      if (K === 2) {
        const e = s1.map(Math.exp);
        const closed = e.map((ex) => 2 * p0.reduce((acc, py, y) => acc + (py * ex) / (ex + e[y]), 0));
        expect(maxRelDiff(H, closed)).toBeLessThan(1e-13);
      }
    });
  }

  it('K = inf: the fused update keeps sum p = 1 without an explicit division', () => {
    const st = new InfiniteKStepper(Float64Array.from(p0), [Float64Array.from(s1), Float64Array.from(s2)], [0.5, 0.5], 0);
    for (let t = 0; t < 500; t++) {
      st.advance();
      expect(Math.abs(st.p.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-14);
    }
  });

  for (const K of [3, 'inf'] as const) {
    it(`K = ${K}: outputs are unchanged when a reward is shifted by a constant`, () => {
      // Dyadic rewards and shift, so the shifted inputs are exact and only the core's own rounding remains.
      const r = [0.375, -1.25, 2, 0.75, -0.5, 1.125];
      const base = { support: { kind: 'atoms', n: 6 }, init: { kind: 'table', values: p0 }, K, beta: 1.5, iterations: 30 };
      const a = simulate({ ...base, rewards: [{ kind: 'table', values: r }] }, { includeDistribution: true });
      const b = simulate({ ...base, rewards: [{ kind: 'table', values: r.map((x) => x + 3000) }] }, { includeDistribution: true });
      expect(maxRelDiff(b.distribution!, a.distribution!)).toBeLessThan(1e-11);
      expect(b.summary.final.entropy).toBeCloseTo(a.summary.final.entropy, 12);
      expect(b.summary.final.mass).toEqual(a.summary.final.mass.map((x) => expect.closeTo(x, 12)));
    });
  }

  for (const K of [2, 3, 8, 'inf'] as const) {
    it(`K = ${K}: E[e^s] is non-decreasing for one reward (Ferbach Lemma 2.2)`, () => {
      const s = Float64Array.from({ length: 41 }, (_, j) => Math.sin(j / 3) * 2 - ((j - 20) / 10) ** 2);
      const start = Float64Array.from({ length: 41 }, (_, j) => 1 + ((j * 7) % 5));
      const tot = start.reduce((a, b) => a + b, 0);
      for (let j = 0; j < start.length; j++) start[j] /= tot;
      const st = K === 'inf' ? new InfiniteKStepper(start, [s], [1], 0) : new FiniteKStepper(start, [s], [1], 0, K);
      const es = s.map(Math.exp);
      let prev = start.reduce((acc, v, j) => acc + v * es[j], 0);
      const first = prev;
      for (let t = 0; t < 60; t++) {
        st.advance();
        const cur = st.p.reduce((acc, v, j) => acc + v * es[j], 0);
        expect(cur).toBeGreaterThanOrEqual(prev * (1 - 1e-14));
        prev = cur;
      }
      expect(prev).toBeGreaterThan(first * 1.1);
    });
  }
});

describe('numerical safety', () => {
  for (const K of [4, 'inf'] as const) {
    it(`K = ${K}: rewards in [-1e4, 1e4] with beta = 100 give finite outputs and sum p = 1`, () => {
      const n = 201;
      const values = Array.from({ length: n }, (_, j) => -1e4 + (2e4 * j) / (n - 1));
      const out = simulate(
        {
          support: { kind: 'grid', min: 0, max: 1, n },
          init: { kind: 'gaussian', mean: 0.1, sd: 0.05 },
          rewards: [{ kind: 'table', values }, { kind: 'table', values: values.map((v) => -v) }],
          q: 0.4,
          K,
          beta: 100,
          iterations: 20,
        },
        { includeDistribution: true },
      );
      const p = out.distribution!;
      expect(p.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
      expect(Math.abs(p.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-12);
      const json = JSON.stringify(out);
      expect(json).not.toContain('null,"step"'.replace('null', 'NaN'));
      for (const row of out.trajectory) {
        for (const v of [row.entropy, row.outside, ...row.mass, ...row.meanReward, ...row.varReward]) expect(Number.isFinite(v)).toBe(true);
      }
      if (K === 'inf') {
        // Each reward's optimum wins its share at once, even the one p_0 gives ~1e-71.
        expect(p[0] + p[n - 1]).toBeGreaterThan(0.999);
        expect(p[n - 1]).toBeCloseTo(0.4, 6);
      } else {
        // Finite K multiplies an atom's mass by at most K per generation.
        expect(p[n - 1]).toBeLessThan(1e-40);
        expect(p[0]).toBeGreaterThan(0.5);
      }
    });
  }

  it('atoms with p_0 = 0 stay at 0', () => {
    const values = [0, 0.2, 0, 0.3, 0.5];
    for (const K of [3, 'inf'] as const) {
      const out = simulate(
        { support: { kind: 'atoms', n: 5 }, init: { kind: 'table', values }, rewards: [{ kind: 'table', values: [9, 0, 9, 1, 0] }], K, iterations: 25, realFraction: 0.1 },
        { includeDistribution: true },
      );
      expect(out.distribution![0]).toBe(0);
      expect(out.distribution![2]).toBe(0);
    }
  });
});

const MIN_NORMAL = 2.2250738585072014e-308;

describe('tails that die on a long run', () => {
  // A 100,000-generation run on the C.4 grid drives the tails of p through the
  // subnormal range; masses below MIN_MASS are set to 0 instead (50-100x cheaper
  // arithmetic), which changes nothing that can be printed.
  const config = {
    support: { kind: 'grid', min: -12, max: 12, n: 401 },
    rewards: [{ kind: 'quadratic', center: -1 }, { kind: 'quadratic', center: 1 }],
    K: 'inf', q: 0.3, iterations: 20_000, recordEvery: 1000,
  } as const;

  for (const K of ['inf', 4] as const) {
    it(`K = ${K}: no subnormal mass is left (none between 0 and MIN_MASS), and p still sums to 1`, () => {
      const out = simulate({ ...config, K, iterations: K === 'inf' ? 20_000 : 2_000 }, { includeDistribution: true });
      const p = out.distribution!;
      expect(p.filter((v) => v > 0 && v < MIN_NORMAL)).toEqual([]); // no subnormal mass left
      expect(p.every((v) => v === 0 || v >= MIN_MASS)).toBe(true);
      expect(p.filter((v) => v === 0).length).toBeGreaterThan(100); // the tails did die
      expect(Math.abs(p.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-12);
    });
  }

  it('the flush changes the distribution by less than 1e-290 per atom (against unflushed brute force)', () => {
    // The middle atom loses a factor ~10 per generation: it crosses MIN_MASS, the
    // subnormal range and 0 within 400 generations, compared at every one of them.
    const s = [Float64Array.from([0, -3, -6]), Float64Array.from([-6, -3, 0])];
    const w = [0.5, 0.5];
    const stepper = new InfiniteKStepper(Float64Array.from([0.2, 0.6, 0.2]), s, w, 0);
    let ref = [0.2, 0.6, 0.2];
    let worst = 0;
    for (let t = 0; t < 400; t++) {
      stepper.advance();
      ref = naiveStep(ref, [0.2, 0.6, 0.2], s.map((x) => [...x]), w, 'inf', 0);
      for (let j = 0; j < 3; j++) worst = Math.max(worst, Math.abs(stepper.p[j] - ref[j]) - 1e-12 * ref[j]);
    }
    expect(ref[1]).toBe(0); // the middle atom went all the way down in exact arithmetic
    expect(stepper.p[1]).toBe(0);
    expect(worst).toBeLessThan(1e-290);
  });

  it('three rewards (the generic kernel, which skips extinct atoms at both ends): every generation agrees with brute force', () => {
    const xs = Array.from({ length: 61 }, (_, j) => -6 + j * 0.2);
    const s = [-3, 0, 3].map((c) => Float64Array.from(xs, (x) => -((x - c) ** 2)));
    const w = [0.2, 0.3, 0.5];
    const start = xs.map(() => 1 / xs.length);
    const stepper = new InfiniteKStepper(Float64Array.from(start), s, w, 0);
    let ref = [...start];
    let worst = 0;
    for (let t = 0; t < 300; t++) {
      const prev = ref;
      const step = stepper.advance();
      ref = naiveStep(ref, start, s.map((x) => [...x]), w, 'inf', 0);
      const tv = 0.5 * ref.reduce((acc, v, j) => acc + Math.abs(v - prev[j]), 0);
      expect(Math.abs(step - tv)).toBeLessThan(1e-13);
      for (let j = 0; j < xs.length; j++) worst = Math.max(worst, Math.abs(stepper.p[j] - ref[j]) - 1e-11 * ref[j]);
    }
    expect(stepper.p[0]).toBe(0); // the ends died, so the kernel ran on a narrower window
    expect(stepper.p[xs.length - 1]).toBe(0);
    expect(worst).toBeLessThan(1e-290);
  });

  it('finite K (H computed only where p > 0): atoms die, and every generation still agrees with brute force', () => {
    // One reward: the mass collapses onto the first atom and the others die.
    const s = [Float64Array.from([0, -8, -16, -24])];
    const w = [1];
    const start = [0.25, 0.25, 0.25, 0.25];
    const stepper = new FiniteKStepper(Float64Array.from(start), s, w, 0, 3);
    let ref = [...start];
    let worst = 0;
    for (let t = 0; t < 400; t++) {
      const prev = ref;
      const step = stepper.advance();
      ref = naiveStep(ref, start, s.map((x) => [...x]), w, 3, 0);
      const tv = 0.5 * ref.reduce((acc, v, j) => acc + Math.abs(v - prev[j]), 0);
      expect(Math.abs(step - tv)).toBeLessThan(1e-12);
      for (let j = 0; j < 4; j++) worst = Math.max(worst, Math.abs(stepper.p[j] - ref[j]) - 1e-10 * ref[j]);
    }
    expect([...stepper.p].filter((v) => v === 0).length).toBe(3); // the others died on the way
    expect(worst).toBeLessThan(1e-290);
  });

  it('finite K: atoms dead at either end leave the stepper\'s loops; every generation still agrees with brute force', () => {
    // Both ends die (no real data), or start dead (p_0 = 0 there) while real data keeps the rest alive.
    const s = [Float64Array.from([-24, -16, -8, 0, -8, -16, -24])];
    const cases = [
      { start: [1, 1, 1, 1, 1, 1, 1].map((v) => v / 7), lambda: 0, deadAtEnd: [0, 1, 5, 6] },
      { start: [0, 0, 0.25, 0.25, 0.25, 0.25, 0], lambda: 0.1, deadAtEnd: [0, 1, 6] },
    ];
    for (const { start, lambda, deadAtEnd } of cases) {
      const stepper = new FiniteKStepper(Float64Array.from(start), s, [1], lambda, 4);
      let ref = [...start];
      let worst = 0;
      for (let t = 0; t < 300; t++) {
        const prev = ref;
        const step = stepper.advance();
        ref = naiveStep(ref, start, s.map((x) => [...x]), [1], 4, lambda);
        const tv = 0.5 * ref.reduce((acc, v, j) => acc + Math.abs(v - prev[j]), 0);
        expect(Math.abs(step - tv)).toBeLessThan(1e-12);
        for (let j = 0; j < 7; j++) worst = Math.max(worst, Math.abs(stepper.p[j] - ref[j]) - 1e-10 * ref[j]);
      }
      for (const j of deadAtEnd) expect(stepper.p[j]).toBe(0);
      expect(stepper.p[3]).toBeGreaterThan(0.5);
      expect(worst).toBeLessThan(1e-290);
    }
  });
});
