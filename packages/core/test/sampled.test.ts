// Sampled mode (contract section 3).
import { describe, expect, it } from 'vitest';
import { simulate } from '../src/index.ts';
import { SampledStepper } from '../src/dynamics-sampled.ts';
import { AliasTable, Xoshiro128 } from '../src/rng.ts';

const base = {
  support: { kind: 'grid', min: -3, max: 3, n: 41 },
  init: { kind: 'gaussian', mean: 0.5, sd: 1.5 },
  rewards: [{ kind: 'quadratic', center: -1 }, { kind: 'gaussian', center: 1.5, width: 0.5, height: 3 }],
  q: 0.4,
  K: 4,
  mode: 'sampled',
  samples: 5000,
  iterations: 30,
  seed: 42,
};

describe('random generator', () => {
  it('xoshiro128** produces a fixed stream for a seed (regression values)', () => {
    const rng = new Xoshiro128(0);
    const first = [rng.nextU32(), rng.nextU32(), rng.nextU32()];
    const again = new Xoshiro128(0);
    expect([again.nextU32(), again.nextU32(), again.nextU32()]).toEqual(first);
    expect(new Xoshiro128(1).nextU32()).not.toBe(first[0]);
    expect(new Xoshiro128(2 ** 40).nextU32()).not.toBe(first[0]);
    expect(first).toEqual([first[0], first[1], first[2]].map((x) => x >>> 0));
    const stream = (seed: number) => {
      const g = new Xoshiro128(seed);
      return Array.from({ length: 4 }, () => g.nextU32());
    };
    expect(stream(-1)).not.toEqual(stream(2 ** 32 - 1));
    expect(stream(2 ** 40)).not.toEqual(stream(0));
  });

  it('bounded integers and doubles are uniform', () => {
    const rng = new Xoshiro128(7);
    const counts = new Array(7).fill(0);
    let sum = 0;
    const N = 70000;
    for (let k = 0; k < N; k++) {
      counts[rng.nextInt(7)]++;
      const u = rng.nextDouble();
      expect(u >= 0 && u < 1).toBe(true);
      sum += u;
    }
    for (const c of counts) expect(Math.abs(c - N / 7)).toBeLessThan(5 * Math.sqrt(N / 7));
    expect(Math.abs(sum / N - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / N));
    const big = 3_000_001;
    for (let k = 0; k < 1000; k++) {
      const x = rng.nextInt(big);
      expect(Number.isInteger(x) && x >= 0 && x < big).toBe(true);
    }
  });

  it('the alias table reproduces its distribution and never draws an atom without mass', () => {
    const p = Float64Array.from([0.5, 0, 0.2, 0.3, 0]);
    const table = new AliasTable(p);
    const rng = new Xoshiro128(3);
    const counts = new Array(5).fill(0);
    const N = 100000;
    for (let k = 0; k < N; k++) counts[table.draw(rng)]++;
    expect(counts[1]).toBe(0);
    expect(counts[4]).toBe(0);
    p.forEach((pj, j) => expect(Math.abs(counts[j] / N - pj)).toBeLessThan(5 * Math.sqrt((pj * (1 - pj)) / N) + 1e-12));
  });
});

describe('sampled dynamics', () => {
  it('the same config and seed give bit-identical output; the generator is named', () => {
    const a = simulate(base, { includeDistribution: true });
    const b = simulate(base, { includeDistribution: true });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(a.generator).toMatch(/xoshiro128\*\*/);
    const c = simulate({ ...base, seed: 43 }, { includeDistribution: true });
    expect(JSON.stringify(c.distribution)).not.toBe(JSON.stringify(a.distribution));
  });

  it('without real data atoms go extinct for good; with real data they come back', () => {
    const p0 = Float64Array.from({ length: 30 }, () => 1 / 30);
    const s = [Float64Array.from({ length: 30 }, (_, j) => -((j - 10) ** 2) / 50)];
    const st = new SampledStepper(p0, s, [1], 0, 3, 200, 5);
    let alive = 30;
    const dead = new Set<number>();
    for (let t = 0; t < 40; t++) {
      st.advance();
      const now = st.p.reduce((acc, v) => acc + (v > 0 ? 1 : 0), 0);
      expect(now).toBeLessThanOrEqual(alive);
      for (const j of dead) expect(st.p[j]).toBe(0);
      st.p.forEach((v, j) => v === 0 && dead.add(j));
      alive = now;
    }
    expect(alive).toBeLessThan(10);
    const withReal = new SampledStepper(p0, s, [1], 0.05, 3, 200, 5);
    for (let t = 0; t < 40; t++) {
      withReal.advance();
      for (const v of withReal.p) expect(v).toBeGreaterThanOrEqual(0.05 / 30);
    }
  });

  it('agrees with exact mode within statistical error for large N (one generation, every atom within 5 sd)', () => {
    const cfg = { ...base, samples: 400000, iterations: 1 };
    const sampled = simulate(cfg, { includeDistribution: true }).distribution!;
    const exact = simulate({ ...cfg, mode: 'exact' }, { includeDistribution: true }).distribution!;
    let chi2 = 0;
    exact.forEach((pe, j) => {
      const sd = Math.sqrt((pe * (1 - pe)) / cfg.samples);
      expect(Math.abs(sampled[j] - pe)).toBeLessThan(5 * sd + 1e-12);
      if (pe > 0) chi2 += ((sampled[j] - pe) ** 2 * cfg.samples) / pe;
    });
    // 40 degrees of freedom: the statistic is far below 100 unless the sampler is biased.
    expect(chi2).toBeLessThan(100);
  });

  it('agrees with exact mode over several generations with real data mixed in', () => {
    const cfg = { ...base, samples: 200000, iterations: 8, realFraction: 0.2 };
    const sampled = simulate(cfg).summary.final;
    const exact = simulate({ ...cfg, mode: 'exact' }).summary.final;
    sampled.mass.forEach((m, i) => expect(Math.abs(m - exact.mass[i])).toBeLessThan(0.01));
    expect(Math.abs(sampled.entropy - exact.entropy)).toBeLessThan(0.02);
  });

  it('very large K uses the streaming choice and still follows the exact dynamics', () => {
    const cfg = { ...base, K: 70000, samples: 30, iterations: 1, rewards: [base.rewards[0]], q: undefined };
    const out = simulate(cfg, { includeDistribution: true });
    const exact = simulate({ ...cfg, mode: 'exact' }, { includeDistribution: true }).distribution!;
    // Only the few grid atoms next to the optimum have non-negligible exact mass; every kept sample is one of them.
    out.distribution!.forEach((v, j) => {
      if (v > 0) expect(exact[j]).toBeGreaterThan(1e-3);
    });
  });
});
