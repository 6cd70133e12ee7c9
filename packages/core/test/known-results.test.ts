// Section 6 of the contract: results a correct core must reproduce.
import { describe, expect, it } from 'vitest';
import { simulate } from '../src/index.ts';

describe('one reward, K = inf (Ferbach et al., Lemma 2.1 and Theorem 2.1)', () => {
  const p0 = [0.05, 0.1, 0.2, 0.3, 0.15, 0.2];
  // A plateau optimum (atoms 0 and 1) so that the outside mass has one clean asymptotic rate.
  const r = [1, 1, 0.5, 0.2, 0, -1];
  const config = {
    support: { kind: 'atoms', n: 6 },
    init: { kind: 'table', values: p0 },
    rewards: [{ kind: 'table', values: r }],
    beta: 1.3,
    iterations: 60,
  };

  it('p_T is proportional to p_0 e^{T s}', () => {
    const T = 60;
    const out = simulate(config, { includeDistribution: true });
    const logw = p0.map((p, j) => Math.log(p) + T * 1.3 * r[j]);
    const top = Math.max(...logw);
    const w = logw.map((l) => Math.exp(l - top));
    const z = w.reduce((a, b) => a + b, 0);
    out.distribution!.forEach((v, j) => expect(v).toBeCloseTo(w[j] / z, 13));
  });

  it('the mass outside the optimum basin decays geometrically at rate e^{-beta gap}', () => {
    const out = simulate(config);
    const outside = out.trajectory.map((row) => row.outside);
    outside.forEach((o, t) => {
      const w = p0.map((p, j) => p * Math.exp(1.3 * t * (r[j] - 1)));
      const exact = (w[2] + w[3] + w[4] + w[5]) / w.reduce((a, b) => a + b, 0);
      expect(Math.abs(o - exact)).toBeLessThan(1e-13 * exact + 1e-300);
    });
    // Basin (eps = 0.1) = atoms 0 and 1; the best atom outside has gap 0.5.
    for (let t = 40; t < 60; t++) expect(outside[t + 1] / outside[t]).toBeCloseTo(Math.exp(-1.3 * 0.5), 6);
    expect(out.summary.final.mass[0]).toBeGreaterThan(0.999);
    expect(out.summary.collapsed).toBe(true);
    expect(out.summary.survivingBasins).toBe(1);
  });
});

describe('two rewards, K = inf', () => {
  it('hard separation (plateau rewards): the limit share of basin 1 is q', () => {
    for (const q of [0.2, 0.55]) {
      const plateau1 = [30, 30, 30, 0, 0, 0, 0, 0, 0];
      const plateau2 = [0, 0, 0, 0, 0, 0, 30, 30, 30];
      const out = simulate({
        support: { kind: 'atoms', n: 9 },
        init: { kind: 'table', values: [1, 2, 3, 4, 5, 4, 3, 2, 1] },
        rewards: [{ kind: 'table', values: plateau1 }, { kind: 'table', values: plateau2 }],
        q,
        iterations: 100,
      });
      const s = out.summary;
      expect(s.basinShare[0]).toBeCloseTo(q, 12);
      expect(s.nashGap).toBeLessThan(1e-12);
      expect(s.converged).toBe(true);
      expect(s.audit!.disjoint).toBe(true);
      expect(s.audit!.inWindow).toBe(true);
      expect(s.audit!.inInterval).toBe(true);
      expect(s.audit!.crossGap).toEqual([30, 30]);
    }
  });

  it('C.4 geometry: rewards -(x +- D/2)^2 on a grid over [-12, 12], the share approaches q as D grows', () => {
    const gaps: number[] = [];
    for (const D of [2, 3, 4, 6]) {
      const out = simulate({
        support: { kind: 'grid', min: -12, max: 12, n: 481 },
        rewards: [{ kind: 'quadratic', center: -D / 2 }, { kind: 'quadratic', center: D / 2 }],
        q: 0.3,
        iterations: 1500,
        recordEvery: 500,
      });
      gaps.push(out.summary.nashGap!);
      expect(out.summary.audit!.inInterval).toBe(true);
      expect(out.summary.survivingBasins).toBe(2);
    }
    for (let k = 1; k < gaps.length; k++) expect(gaps[k]).toBeLessThan(gaps[k - 1] / 10);
    expect(gaps[0]).toBeGreaterThan(1e-3);
    expect(gaps[3]).toBeLessThan(1e-12);
  });

  it('overlapping basins (D small) are flagged by the audit', () => {
    const out = simulate({
      support: { kind: 'grid', min: -12, max: 12, n: 481 },
      rewards: [{ kind: 'quadratic', center: -0.05 }, { kind: 'quadratic', center: 0.05 }],
      q: 0.3,
      iterations: 50,
    });
    expect(out.summary.audit!.disjoint).toBe(false);
    expect(out.summary.audit!.inWindow).toBe(false);
  });
});
