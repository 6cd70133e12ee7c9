// Section 5 of the contract: the verdicts of a run, rule by rule, on hand-built cases.
import { describe, expect, it } from 'vitest';
import { ConvergenceTracker, DecayRegression, projectedDrift, simulate } from '../src/index.ts';
import { summarize } from '../src/summary.ts';
import type { MetricsRow } from '../src/types.ts';

function row(mass: number[], outside: number, varReward = mass.map(() => 0)): MetricsRow {
  return { t: 10, entropy: 0, effectiveSupport: 1, mass, outside, meanReward: mass.map(() => 0), varReward, step: 0, shareStep: 0 };
}

function verdicts(mass: number[], outside: number, weights: number[]) {
  return summarize({ final: row(mass, outside), weights, converged: false, convergedAt: null, outsideDecayRate: null, audit: null });
}

function track(steps: number[], tol = 1e-6) {
  const c = new ConvergenceTracker(tol);
  for (const s of steps) c.push(s);
  return c.result();
}

describe('projected remaining drift R_t', () => {
  it('follows the 0/0 rules exactly', () => {
    expect(projectedDrift(0, 0)).toBe(0);
    expect(projectedDrift(1e-6, 0)).toBe(0);
    expect(projectedDrift(0, 1e-6)).toBe(Infinity);
    expect(projectedDrift(1e-6, 1e-6)).toBe(Infinity); // rho = 1
    expect(projectedDrift(1e-6, 2e-6)).toBe(Infinity);
    expect(projectedDrift(4e-6, 1e-6)).toBeCloseTo(1e-6 / 0.75, 20);
  });

  it('counts a shareStep below 1e-12 as 0, on either side', () => {
    expect(projectedDrift(9e-13, 5e-13)).toBe(0);
    expect(projectedDrift(9e-13, 2e-12)).toBe(Infinity);
    expect(projectedDrift(3e-12, 9.99e-13)).toBe(0);
  });
});

describe('converged and convergedAt', () => {
  it('R_0 = R_1 = infinity: T = 0 and T = 1 never converge, even with no movement', () => {
    expect(track([])).toEqual({ converged: false, convergedAt: null });
    expect(track([0])).toEqual({ converged: false, convergedAt: null });
    expect(track([0, 0])).toEqual({ converged: true, convergedAt: 2 });
  });

  it('a geometric approach settles where its projected tail falls below tol', () => {
    // shareStep_t = 0.5^t: R_t = 2 * 0.5^t < 1e-6 from t = 21 on.
    const steps = Array.from({ length: 40 }, (_, i) => 0.5 ** (i + 1));
    expect(track(steps)).toEqual({ converged: true, convergedAt: 21 });
    expect(track(steps.slice(0, 21))).toEqual({ converged: true, convergedAt: 21 });
    expect(track(steps.slice(0, 20))).toEqual({ converged: false, convergedAt: null });
  });

  it('a slow geometric tail is not settled though each step is small', () => {
    // rho = 0.999: each step is 1e-8 but the drift still to come is 1e-5.
    const steps = Array.from({ length: 50 }, (_, i) => 1e-8 * 0.999 ** i);
    expect(track(steps)).toEqual({ converged: false, convergedAt: null });
  });

  it('reports the last settling when a run settles, moves again and settles again', () => {
    const steps = [...Array.from({ length: 30 }, (_, i) => 0.5 ** (i + 1)), 0.1, ...Array.from({ length: 30 }, (_, i) => 0.1 * 0.5 ** (i + 1))];
    const r = track(steps);
    expect(r.converged).toBe(true);
    // Generation 31 moves by 0.1; the second settling is when 2 * 0.1 * 0.5^k < 1e-6, k >= 18, t = 31 + 18.
    expect(r.convergedAt).toBe(49);
    expect(track(steps.slice(0, 31))).toEqual({ converged: false, convergedAt: null });
  });

  it('rounding noise below 1e-12 does not keep a settled run unsettled', () => {
    const noise = [3e-13, 7e-13, 1e-13, 9e-13, 4e-13, 8e-13];
    expect(track([0.3, 0.1, ...noise])).toEqual({ converged: true, convergedAt: 3 });
  });
});

describe('outsideDecayRate', () => {
  it('is the least-squares slope of ln outside over ceil(T/2)..T, skipping zeros, null below two points', () => {
    const T = 21;
    const d = new DecayRegression(T);
    for (let t = 0; t <= T; t++) d.add(t, t === 15 ? 0 : 0.3 * 0.9 ** t);
    expect(d.slope()).toBeCloseTo(Math.log(0.9), 12);
    const noisy = new DecayRegression(4);
    // t = 2, 3, 4 with ln values 0, 1, 0: slope 0. Generations before ceil(4/2) do not count.
    [5, 5, 1, Math.E, 1].forEach((v, t) => noisy.add(t, v));
    expect(noisy.slope()).toBeCloseTo(0, 15);
    const one = new DecayRegression(10);
    for (let t = 0; t <= 10; t++) one.add(t, t === 10 ? 0.5 : 0);
    expect(one.slope()).toBeNull();
    const late = new DecayRegression(1e6);
    for (let t = 5e5; t <= 1e6; t += 1) late.add(t, Math.exp(-1e-4 * t));
    expect(late.slope()).toBeCloseTo(-1e-4, 12);
  });

  it('uses every generation, not just the recorded ones', () => {
    // One reward on two atoms: outside_t = 1 / (1 + e^{beta t}) exactly.
    const base = { support: { kind: 'atoms', n: 2 }, rewards: [{ kind: 'table', values: [1, 0] }], beta: 0.7, iterations: 31 };
    let tt = 0, ty = 0, t1 = 0, y1 = 0, k = 0;
    for (let t = 16; t <= 31; t++) {
      const y = -Math.log1p(Math.exp(0.7 * t));
      k++; t1 += t; y1 += y; tt += t * t; ty += t * y;
    }
    const slope = (k * ty - t1 * y1) / (k * tt - t1 * t1);
    for (const recordEvery of [1, 7, 100]) {
      const out = simulate({ ...base, recordEvery });
      expect(out.summary.outsideDecayRate).toBeCloseTo(slope, 10);
    }
    expect(simulate({ ...base, iterations: 1 }).summary.outsideDecayRate).toBeNull();
  });
});

describe('collapsed and survivingBasins are judged against each weight', () => {
  it('weights (0.995, 0.005) at the predicted allocation is not a collapse', () => {
    const s = verdicts([0.995, 0.005], 0, [0.995, 0.005]);
    expect(s.collapsed).toBe(false);
    expect(s.survivingBasins).toBe(2);
    expect(s.nashGap).toBeCloseTo(0, 15);
  });

  it('a basin below 1% of its weight is lost, also to the outside (compromise collapse)', () => {
    expect(verdicts([0.99996, 0.00004], 0, [0.995, 0.005])).toMatchObject({ collapsed: true, survivingBasins: 1 });
    expect(verdicts([0.99995, 0.00005], 0, [0.995, 0.005])).toMatchObject({ collapsed: false, survivingBasins: 2 });
    expect(verdicts([0.004, 0.004], 0.992, [0.5, 0.5])).toMatchObject({ collapsed: true, survivingBasins: 0, basinShare: [0.5, 0.5] });
    expect(verdicts([0.2, 0.3, 0.0009], 0.4991, [0.3, 0.6, 0.1])).toMatchObject({ collapsed: true, survivingBasins: 2 });
  });

  it('no basin mass at all: shares and nashGap are null, every basin is lost', () => {
    expect(verdicts([0, 0], 1, [0.5, 0.5])).toMatchObject({ basinShare: [null, null], nashGap: null, collapsed: true, survivingBasins: 0 });
  });

  it('one reward: collapsed at mass >= 0.99, surviving with weight 1', () => {
    expect(verdicts([0.99], 0.01, [1])).toMatchObject({ collapsed: true, survivingBasins: 1 });
    expect(verdicts([0.9899], 0.0101, [1])).toMatchObject({ collapsed: false, survivingBasins: 1 });
    expect(verdicts([0.0099], 0.9901, [1])).toMatchObject({ collapsed: false, survivingBasins: 0 });
  });
});

// Two gaussian bumps (height h, width 1) at -3 and +3 on [-12, 12]: Table 3's landscape with D = 6.
function bumps(height: number, beta: number, extra: Record<string, unknown> = {}) {
  return {
    support: { kind: 'grid', min: -12, max: 12, n: 1201 },
    rewards: [
      { kind: 'gaussian', center: -3, width: 1, height },
      { kind: 'gaussian', center: 3, width: 1, height },
    ],
    q: 0.1,
    beta,
    iterations: 50,
    ...extra,
  };
}

describe('the audit works in selection units (beta_i r_i)', () => {
  const VERDICTS = ['disjoint', 'gapsExceed2eps', 'inWindow', 'largeK', 'applies'] as const;

  it('height 5 with beta 1 and height 1 with beta 5 (same dynamics) get the same verdicts', () => {
    const a = simulate(bumps(5, 1)).summary;
    const b = simulate(bumps(1, 5)).summary;
    expect(b.basinShare[0]).toBeCloseTo(a.basinShare[0]!, 5);
    for (const k of VERDICTS) expect(b.audit![k]).toEqual(a.audit![k]);
    expect(a.audit!.inWindow).toBe(true);
    for (const s of [a, b]) {
      for (const iv of [s.audit!.interval, s.audit!.intervalB5, s.audit!.intervalCorrected]) {
        expect(iv[0]).toBeLessThanOrEqual(s.basinShare[0]!);
        expect(s.basinShare[0]!).toBeLessThanOrEqual(iv[1]);
      }
    }
  });

  it('with eps scaled too (the same basins), every quantity in an exponent is identical', () => {
    const a = simulate(bumps(5, 1, { eps: 0.1 })).summary;
    const b = simulate(bumps(1, 5, { eps: 0.02 })).summary;
    expect(b.basinShare).toEqual(a.basinShare);
    const { crossGap: ga, outsideGap: oa, varianceBound: _va, varianceSlack: _sa, nash: _na, ...restA } = a.audit!;
    const { crossGap: gb, outsideGap: ob, varianceBound: _vb, varianceSlack: _sb, nash: _nb, ...restB } = b.audit!;
    const other = restB as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(restA)) {
      if (Array.isArray(v)) v.forEach((x, i) => (typeof x === 'number' ? expect((other[k] as number[])[i]).toBeCloseTo(x, 12) : expect((other[k] as unknown[])[i]).toEqual(x)));
      else if (typeof v === 'number') expect(other[k] as number).toBeCloseTo(v, 10);
      else expect(other[k]).toEqual(v);
    }
    // Unscaled gaps scale with the height.
    expect(ga[0]).toBeCloseTo(5 * gb[0], 10);
    expect(oa!).toBeCloseTo(5 * ob!, 10);
  });

  it('finite K is outside the lemma: K = 4, q = 0.1 has largeK false, so applies false, and the minority basin dies', () => {
    const s = simulate(bumps(5, 1, { K: 4 })).summary;
    expect(s.audit!.largeK).toBe(false);
    expect(s.audit!.applies).toBe(false);
    expect(s.audit!.inWindow).toBe(true);
    expect(s.basinShare[0]!).toBeLessThan(1e-10);
    expect(s.collapsed).toBe(true);
  });
});

describe('appendix B.4: outsideDomination', () => {
  // Section 6: every clause of Assumption 2.1 holds, yet a compromise atom (reward 4.7 for
  // both, outside both basins) takes all the mass. W at that atom starts near 1.69.
  const counterexample = {
    support: { kind: 'atoms', n: 4 },
    rewards: [
      { kind: 'table', values: [5, 0, 4.7, 0] },
      { kind: 'table', values: [0, 5, 4.7, 0] },
    ],
    q: 0.5,
    iterations: 200,
  };

  it("Lemma 3.3's counterexample: the outside mass grows to 1, outsideDomination >= 1, applies false", () => {
    const s = simulate(counterexample).summary;
    const a = s.audit!;
    expect(s.final.outside).toBeGreaterThan(0.999);
    expect(a.outsideDomination!).toBeGreaterThanOrEqual(1);
    expect(a.outsideDomination!).toBeCloseTo((4 * Math.exp(4.7)) / (Math.exp(5) + Math.exp(4.7) + 2), 12);
    // Every clause of Assumption 2.1 holds; only B.4 fails.
    expect(a).toMatchObject({ disjoint: true, gapsExceed2eps: [true, true], inWindow: true, largeK: true, applies: false });
    expect(a.initMass).toEqual([0.25, 0.25]);
    // The interval verdicts are not judged while mass is outside the basins.
    expect([a.inInterval, a.inIntervalB5, a.inIntervalCorrected]).toEqual([null, null, null]);
  });

  it('B.4 holding is what lets applies be true', () => {
    // The compromise atom lowered to 2: W there stays below 1, the outside mass decays.
    const ok = { ...counterexample, rewards: [{ kind: 'table', values: [5, 0, 2, 0] }, { kind: 'table', values: [0, 5, 2, 0] }] };
    const s = simulate(ok).summary;
    expect(s.audit!.outsideDomination!).toBeLessThan(1);
    expect(s.audit!.applies).toBe(true);
    expect(s.final.outside).toBeLessThan(1e-3);
    expect(s.audit!.inInterval).toBe(true);
    expect(s.outsideDecayRate!).toBeLessThan(0);
  });

  it('the interval verdicts wait until the outside mass is below 1e-3', () => {
    const ok = { ...counterexample, rewards: [{ kind: 'table', values: [5, 0, 2, 0] }, { kind: 'table', values: [0, 5, 2, 0] }] };
    const early = simulate({ ...ok, iterations: 2 }).summary;
    expect(early.final.outside).toBeGreaterThan(1e-3);
    expect(early.final.outside).toBeLessThan(1e-2);
    expect([early.audit!.inInterval, early.audit!.inIntervalB5, early.audit!.inIntervalCorrected]).toEqual([null, null, null]);
    const later = simulate({ ...ok, iterations: 3 }).summary;
    expect(later.final.outside).toBeLessThan(1e-3);
    expect([later.audit!.inInterval, later.audit!.inIntervalB5, later.audit!.inIntervalCorrected]).toEqual([true, true, true]);
  });

  it('is the K = inf multiplier whatever K is', () => {
    const inf = simulate({ ...counterexample, iterations: 1 }).summary.audit!;
    const k3 = simulate({ ...counterexample, iterations: 1, K: 3 }).summary.audit!;
    // With T = 1 only p_0 enters, and p_0 is the same.
    expect(k3.outsideDomination).toBe(inf.outsideDomination);
    expect(k3.applies).toBe(false);
  });

  it('is null with every atom in a basin or with T = 0, and written as the largest double when it overflows', () => {
    const inBasins = { support: { kind: 'atoms', n: 2 }, rewards: [{ kind: 'table', values: [1, 0] }, { kind: 'table', values: [0, 1] }], iterations: 5 };
    const a = simulate(inBasins).summary.audit!;
    expect(a.outsideDomination).toBeNull();
    expect(a.outsideGap).toBeNull();
    expect(a.applies).toBe(true);
    expect(simulate({ ...counterexample, iterations: 0 }).summary.audit!.outsideDomination).toBeNull();
    // All the mass on an atom far below the outside atom in both rewards: e^{900} / Z overflows.
    const huge = {
      support: { kind: 'atoms', n: 4 },
      init: { kind: 'table', values: [0, 0, 0, 1] },
      rewards: [{ kind: 'table', values: [1000, 0, 900, 0] }, { kind: 'table', values: [0, 1000, 900, 0] }],
      iterations: 3,
    };
    const h = simulate(huge).summary;
    expect(h.audit!.outsideDomination).toBe(Number.MAX_VALUE);
    expect(JSON.parse(JSON.stringify(h)).audit.outsideDomination).toBe(1.7976931348623157e308);
    expect(h.audit!.applies).toBe(false);
    expect(h.basinShare).toEqual([null, null]);
    expect(h.audit!.varianceBound).toEqual([null, null]);
    expect(h.audit!.varianceSlack).toEqual([null, null]);
    expect(h.audit!.nash).toEqual({ utilities: [[null, null], [null, null]], premise: null, gains: [null, null] });
  });
});

describe('audit edge cases', () => {
  it('a leakage whose exponential overflows is null, counts as >= 1: trivial interval ends, inWindow false', () => {
    // Overlapping wide basins (eps = 0.6): Delta = 0.5 < 2 eps, and beta (Delta - 2 eps) = -1400.
    const s = simulate({
      support: { kind: 'atoms', n: 3 },
      rewards: [{ kind: 'table', values: [1, 0, 0.5] }, { kind: 'table', values: [0, 1, 0.5] }],
      eps: 0.6,
      beta: 2000,
      iterations: 5,
    }).summary;
    const a = s.audit!;
    expect(a.disjoint).toBe(false);
    expect(a.crossGap).toEqual([0.5, 0.5]);
    expect(a.leakage).toEqual([null, null]);
    expect(a.inWindow).toBe(false);
    expect(a.interval).toEqual([0, 1]);
    // B.5's kappa' = e^{200} is finite but >= 1: trivial too.
    expect(a.intervalB5).toEqual([0, 1]);
    expect(a.gapsExceed2eps).toEqual([false, false]);
    expect(a.applies).toBe(false);
  });

  it('the corrected interval is trivial at an end whose Delta is 0', () => {
    // Atom 1 is in both basins and is reward 1's optimum too: Delta_1 = 0.
    const a = simulate({
      support: { kind: 'atoms', n: 3 },
      rewards: [{ kind: 'table', values: [1, 1, 0] }, { kind: 'table', values: [0, 1, 0.2] }],
      iterations: 3,
    }).summary.audit!;
    expect(a.crossGap[0]).toBe(0);
    expect(a.intervalCorrected[0]).toBe(0);
    expect(a.disjoint).toBe(false);
  });

  it('formulas: leakage, the three intervals, the variance bound and the Nash utilities on a plateau landscape', () => {
    const q = 0.3;
    const eps = 0.1;
    const b1 = 2;
    // Atoms 0, 1: basin 1; atoms 2, 3: basin 2; atom 4 outside. Rewards chosen so every gap is distinct.
    const r1 = [3, 2.95, 0.4, 0.2, 1];
    const r2 = [0.1, 0.5, 2, 1.92, 0.9];
    const out = simulate({ support: { kind: 'atoms', n: 5 }, rewards: [{ kind: 'table', values: r1 }, { kind: 'table', values: r2 }], q, eps, beta: b1, iterations: 300 }, { includeDistribution: true });
    const s = out.summary;
    const a = s.audit!;
    const D1 = 3 - 0.4;
    const D2 = 2 - 0.5;
    expect(a.crossGap[0]).toBeCloseTo(D1, 14);
    expect(a.crossGap[1]).toBeCloseTo(D2, 14);
    expect(a.outsideGap).toBeCloseTo(1.1, 14);
    const k1 = Math.exp(-b1 * (D1 - 2 * eps));
    const k2 = Math.exp(-b1 * (D2 - 2 * eps));
    expect(a.leakage[0]).toBeCloseTo(k1, 15);
    expect(a.interval[0]).toBeCloseTo((q - k1) / (1 - k1), 14);
    expect(a.interval[1]).toBeCloseTo(Math.min(1, q / (1 - k2)), 14);
    const c1 = Math.exp(-b1 * (D1 - eps));
    const c2 = Math.exp(-b1 * (D2 - eps));
    expect(a.intervalB5).toEqual([expect.closeTo((q - c1) / (1 - c1), 14), expect.closeTo(Math.min(1, q / (1 - c2)), 14)]);
    const lo = (q * Math.exp(-b1 * eps) - Math.exp(-b1 * D1)) / (1 - Math.exp(-b1 * D1));
    const hi = 1 - ((1 - q) * Math.exp(-b1 * eps) - Math.exp(-b1 * D2)) / (1 - Math.exp(-b1 * D2));
    expect(a.intervalCorrected[0]).toBeCloseTo(lo, 14);
    expect(a.intervalCorrected[1]).toBeCloseTo(hi, 14);
    const share = s.basinShare[0]!;
    expect(a.varianceBound[0]).toBeCloseTo(share * (1 - share) * (D1 - 2 * eps) ** 2, 14);
    expect(a.varianceSlack[1]).toBeCloseTo(s.final.varReward[1] - share * (1 - share) * (D2 - 2 * eps) ** 2, 14);
    // Nash: the final distribution restricted to each basin.
    const p = out.distribution!;
    const P1 = [p[0], p[1]].map((v) => v / (p[0] + p[1]));
    const P2 = [p[2], p[3]].map((v) => v / (p[2] + p[3]));
    const u = (r: number[], P: number[], off: number) => P[0] * r[off] + P[1] * r[off + 1];
    const U = [[u(r1, P1, 0), u(r1, P2, 2)], [u(r2, P1, 0), u(r2, P2, 2)]];
    a.nash.utilities.forEach((rowU, i) => rowU.forEach((v, j) => expect(v!).toBeCloseTo(U[i][j], 13)));
    expect(a.nash.premise).toBe(true);
    expect(a.nash.gains[0]!).toBeCloseTo(share * (U[0][0] - U[0][1]), 13);
    expect(a.nash.gains[1]!).toBeCloseTo((1 - share) * (U[1][1] - U[1][0]), 13);
    expect(s.final.outside).toBeLessThan(1e-3);
    expect(a.inInterval).toBe(share >= a.interval[0] && share <= a.interval[1]);
  });

  it('a basin with no final mass makes every Nash entry null; the shares still judge the rest', () => {
    const s = simulate({
      support: { kind: 'atoms', n: 3 },
      init: { kind: 'table', values: [1, 0, 1] },
      rewards: [{ kind: 'table', values: [1, 0, 0.2] }, { kind: 'table', values: [0, 1, 0.2] }],
      iterations: 10,
    }).summary;
    expect(s.audit!.initMass).toEqual([0.5, 0]);
    expect(s.audit!.nash).toEqual({ utilities: [[null, null], [null, null]], premise: null, gains: [null, null] });
    expect(s.basinShare).toEqual([1, 0]);
    expect(s.audit!.varianceBound).toEqual([0, 0]);
    expect(s.collapsed).toBe(true);
  });

  it('no audit unless m = 2', () => {
    const one = simulate({ support: { kind: 'atoms', n: 2 }, rewards: [{ kind: 'table', values: [1, 0] }], iterations: 3 });
    const three = simulate({ support: { kind: 'atoms', n: 3 }, rewards: [0, 1, 2].map((i) => ({ kind: 'table', values: [0, 1, 2].map((j) => (i === j ? 1 : 0)) })), iterations: 3 });
    expect(one.summary.audit).toBeNull();
    expect(three.summary.audit).toBeNull();
  });
});

describe('convergence on a run (section 5 and the issue\'s C.4 sweep)', () => {
  const c4 = (D: number, q: number, extra: Record<string, unknown> = {}) => ({
    support: { kind: 'grid', min: -12, max: 12, n: 4001 },
    rewards: [{ kind: 'quadratic', center: -D / 2 }, { kind: 'quadratic', center: D / 2 }],
    q,
    iterations: 2000,
    ...extra,
  });

  it('a C.4 quadratic run (D = 4, q = 0.1, T = 2000) converges, with the same convergedAt at any recordEvery', () => {
    const every = simulate(c4(4, 0.1, { recordEvery: 1 })).summary;
    expect(every.converged).toBe(true);
    expect(every.convergedAt).toBeGreaterThan(2);
    expect(every.convergedAt).toBeLessThan(2000);
    expect(every.basinShare[0]).toBeCloseTo(0.1, 4);
    const sparse = simulate(c4(4, 0.1, { recordEvery: 250 })).summary;
    expect(sparse.converged).toBe(true);
    expect(sparse.convergedAt).toBe(every.convergedAt);
  });

  it('D = 2, q = 0.1 is still drifting at T = 2000 (section 6: 0.0822), so it has not converged', () => {
    const s = simulate(c4(2, 0.1, { recordEvery: 100 })).summary;
    expect(s.basinShare[0]).toBeCloseTo(0.0822, 4);
    expect(s.converged).toBe(false);
    expect(s.convergedAt).toBeNull();
  });
});

describe('outputs of section 7', () => {
  it('coordinates: n lists of d numbers (also d = 1), null for atoms, only with the distribution', () => {
    const grid = simulate({ support: { kind: 'grid', min: 0, max: 1, n: 4 }, rewards: [{ kind: 'linear', coef: 1 }], iterations: 1 }, { includeDistribution: true });
    expect(grid.coordinates).toEqual([[0.125], [0.375], [0.625], [0.875]]);
    const pts = simulate({ support: { kind: 'points', points: [[0, 1], [2, 3], [4, 5]] }, rewards: [{ kind: 'linear', coef: [1, 0] }], iterations: 1 }, { includeDistribution: true });
    expect(pts.coordinates).toEqual([[0, 1], [2, 3], [4, 5]]);
    const atoms = simulate({ support: { kind: 'atoms', n: 2 }, rewards: [{ kind: 'table', values: [1, 0] }], iterations: 1 }, { includeDistribution: true });
    expect(atoms.coordinates).toBeNull();
    const plain = simulate({ support: { kind: 'atoms', n: 2 }, rewards: [{ kind: 'table', values: [1, 0] }], iterations: 1 });
    expect(plain).not.toHaveProperty('coordinates');
    expect(plain).not.toHaveProperty('distribution');
  });

  it('shareStep is null at t = 0 and, like step, covers the generations between recorded rows', () => {
    const base = { support: { kind: 'grid', min: -3, max: 3, n: 61 }, rewards: [{ kind: 'quadratic', center: -1 }, { kind: 'quadratic', center: 1 }], q: 0.3, iterations: 12 };
    const every = simulate(base).trajectory;
    const sparse = simulate({ ...base, recordEvery: 4 }).trajectory;
    expect(every[0].shareStep).toBeNull();
    expect(sparse.map((r) => r.t)).toEqual([0, 4, 8, 12]);
    for (const r of sparse.slice(1)) expect(r.shareStep).toBe(every[r.t].shareStep);
    // Hand check at t = 1: the largest move of a basin mass or the outside mass.
    const [r0, r1] = every;
    const moves = [...r0.mass.map((m, i) => Math.abs(r1.mass[i] - m)), Math.abs(r1.outside - r0.outside)];
    expect(r1.shareStep).toBeCloseTo(Math.max(...moves), 15);
  });
});

describe('per-generation quantities against a brute force from p_t', () => {
  // W_t(x) = sum_i w_i e^{s_i(x)} / Z_i(t), in log space so nothing overflows here.
  function domination(p: number[], s: number[][], w: number[], outsideAtoms: number[]): number {
    const logZ = s.map((si) => {
      const top = Math.max(...si.filter((_, j) => p[j] > 0));
      return top + Math.log(si.reduce((a, v, j) => a + p[j] * Math.exp(v - top), 0));
    });
    let best = -Infinity;
    for (const j of outsideAtoms) best = Math.max(best, w.reduce((a, wi, i) => a + wi * Math.exp(s[i][j] - logZ[i]), 0));
    return best;
  }

  const cases: [string, Record<string, unknown>][] = [
    ['K = inf', { support: { kind: 'grid', min: -3, max: 3, n: 41 }, rewards: [{ kind: 'quadratic', center: -1 }, { kind: 'quadratic', center: 1.2, scale: 2 }], q: 0.3, beta: 1.5 }],
    ['finite K with real data', { support: { kind: 'grid', min: -3, max: 3, n: 41 }, init: { kind: 'gaussian', mean: 0.5, sd: 1 }, rewards: [{ kind: 'gaussian', center: -1, width: 0.6, height: 2 }, { kind: 'linear', coef: 0.8, clip: { max: 1.5 } }], q: 0.55, K: 5, beta: 2, realFraction: 0.1 }],
    ['per-reward beta', { support: { kind: 'grid', min: -3, max: 3, n: 41 }, rewards: [{ kind: 'abs', center: -1, beta: 3 }, { kind: 'quadratic', center: 1 }], q: 0.4 }],
    ['accumulate', { support: { kind: 'grid', min: -3, max: 3, n: 41 }, rewards: [{ kind: 'quadratic', center: -1 }, { kind: 'quadratic', center: 1 }], q: 0.3, retrain: 'accumulate' }],
    ['kernel model', { support: { kind: 'grid', min: -3, max: 3, n: 41 }, rewards: [{ kind: 'quadratic', center: -1 }, { kind: 'quadratic', center: 1 }], q: 0.3, model: { kind: 'kernel', bandwidth: 0.3 } }],
  ];

  for (const [name, base] of cases) {
    it(`${name}: shareStep of every row, the outside decay rate and outsideDomination`, () => {
      const T = 10;
      const out = simulate({ ...base, iterations: T }, { includeDistribution: true });
      const rows = out.trajectory;
      expect(rows.map((r) => r.t)).toEqual(Array.from({ length: T + 1 }, (_, t) => t));
      for (let t = 1; t <= T; t++) {
        const moves = [...rows[t].mass.map((m, i) => Math.abs(m - rows[t - 1].mass[i])), Math.abs(rows[t].outside - rows[t - 1].outside)];
        expect(Math.abs(rows[t].shareStep! - Math.max(...moves))).toBeLessThan(1e-15);
      }
      const d = new DecayRegression(T);
      rows.forEach((r) => d.add(r.t, r.outside));
      expect(out.summary.outsideDecayRate).toBeCloseTo(d.slope()!, 11);

      const config = out.config as { rewards: { beta: number }[]; weights: number[] };
      const coords = out.coordinates!.map((x) => x[0]);
      // Scores and basins from the rewards as run, evaluated here on the coordinates.
      const probe = (t: number) => simulate({ ...base, iterations: t }, { includeDistribution: true }).distribution!;
      const rewardsAt = (config.rewards as unknown as Record<string, unknown>[]).map((r) => coords.map((x) => rewardAt(r, x)));
      const s = rewardsAt.map((r, i) => r.map((v) => config.rewards[i].beta * v));
      const outsideAtoms = coords.map((_, j) => j).filter((j) => rewardsAt.every((r) => r[j] < Math.max(...r) - 0.1 - 1e-9));
      let best = -Infinity;
      for (let t = 0; t < T; t++) best = Math.max(best, domination(probe(t), s, config.weights, outsideAtoms));
      expect(out.summary.audit!.outsideDomination!).toBeCloseTo(best, 10);
    });
  }
});

function rewardAt(r: Record<string, unknown>, x: number): number {
  const c = (r.center as number[] | undefined)?.[0] ?? 0;
  let v: number;
  if (r.kind === 'quadratic') v = -(r.scale as number) * (x - c) ** 2;
  else if (r.kind === 'abs') v = -(r.scale as number) * Math.abs(x - c);
  else if (r.kind === 'gaussian') v = (r.height as number) * Math.exp(-((x - c) ** 2) / (2 * (r.width as number) ** 2));
  else v = (r.coef as number[])[0] * x + (r.bias as number);
  const clip = r.clip as { min?: number; max?: number } | undefined;
  if (clip?.min !== undefined) v = Math.max(v, clip.min);
  if (clip?.max !== undefined) v = Math.min(v, clip.max);
  return v;
}

describe('config as run (section 7)', () => {
  const configs: [string, Record<string, unknown>][] = [
    ['three rewards, weights off 1 by rounding, per-reward beta, clip', {
      support: { kind: 'points', points: [[0, 0], [1, 0], [0, 1], [1, 1], [0.5, 0.5]] },
      init: { kind: 'mixture', components: [{ mean: [0, 0], sd: 0.5, weight: 1 }, { mean: [1, 1], sd: 0.7, weight: 2 }] },
      rewards: [
        { kind: 'abs', center: [0, 0], beta: 2.5 },
        { kind: 'linear', coef: [1, -1], clip: { max: 0.5 } },
        { kind: 'gaussian', center: [1, 1], width: 0.4 },
      ],
      weights: [0.1, 0.2, 0.7000000001],
      K: 3,
      iterations: 7,
    }],
    ['atoms, sampled', { support: { kind: 'atoms', n: 5 }, init: { kind: 'table', values: [1, 2, 3, 4, 5] }, rewards: [{ kind: 'table', values: [0, 1, 0, 2, 1] }], mode: 'sampled', K: 4, samples: 500, seed: 7, iterations: 5 }],
    ['kernel model, accumulate, real data', { support: { kind: 'grid', min: [-2], max: [2], n: [30] }, rewards: [{ kind: 'quadratic', center: -1 }, { kind: 'quadratic', center: 1 }], q: 0.3, model: { kind: 'kernel', bandwidth: 0.2 }, retrain: 'accumulate', realFraction: 0.05, iterations: 6 }],
  ];

  for (const [name, config] of configs) {
    it(`${name}: every default filled in, fed back gives the same output`, () => {
      const out = JSON.parse(JSON.stringify(simulate(config, { includeDistribution: true })));
      const c = out.config;
      expect(Object.keys(c)).toEqual(['support', 'init', 'rewards', 'weights', 'K', 'beta', 'realFraction', 'iterations', 'mode', 'samples', 'seed', 'eps', 'tol', 'recordEvery', 'model', 'retrain']);
      expect(c).not.toHaveProperty('q');
      for (const r of c.rewards) expect(Object.keys(r).at(-1)).toBe('beta');
      expect(c.weights.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 15);
      const again = JSON.parse(JSON.stringify(simulate(c, { includeDistribution: true })));
      expect(again).toEqual(out);
    });
  }

  it('resolves each reward\'s beta and the run defaults', () => {
    const out = simulate({ support: { kind: 'atoms', n: 2 }, rewards: [{ kind: 'table', values: [0, 1], beta: 3 }, { kind: 'table', values: [1, 0] }], q: 0.25, beta: 0.5, iterations: 1 });
    expect(out.config).toMatchObject({
      rewards: [{ kind: 'table', values: [0, 1], beta: 3 }, { kind: 'table', values: [1, 0], beta: 0.5 }],
      weights: [0.25, 0.75],
      K: 'inf',
      realFraction: 0,
      mode: 'exact',
      samples: 10000,
      seed: 0,
      eps: 0.1,
      tol: 1e-6,
      recordEvery: 1,
      model: { kind: 'exact' },
      retrain: 'replace',
    });
  });
});
