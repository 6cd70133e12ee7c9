// Model families (contract 2.2) against the contract's formulas written out
// term by term, and the whole pipeline with a mixture against an independent EM.
import { describe, expect, it } from 'vitest';
import { createFitter, kernelHalfWindow } from '../src/models.ts';
import { buildSupport, type SupportPoints } from '../src/support.ts';
import { simulate, validateConfig } from '../src/index.ts';
import type { NormalizedSupport } from '../src/types.ts';
import { buildInit } from '../src/init.ts';
import { allRewardValues } from '../src/rewards.ts';

function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return (x + 0.5) / 4294967296;
  };
}

function dist2(sp: SupportPoints, a: number, b: number): number {
  let r2 = 0;
  for (let k = 0; k < sp.d; k++) {
    const dx = sp.coords[a * sp.d + k] - sp.coords[b * sp.d + k];
    r2 += dx * dx;
  }
  return r2;
}

/** Fit(D)(x) = sum_y D(y) exp(-|x-y|^2/2h^2) / sum_z exp(-|z-y|^2/2h^2), every term. */
function naiveKernel(sp: SupportPoints, D: Float64Array, h: number): Float64Array {
  const n = sp.n;
  const norm = new Float64Array(n);
  for (let y = 0; y < n; y++) for (let z = 0; z < n; z++) norm[y] += Math.exp(-dist2(sp, z, y) / (2 * h * h));
  const out = new Float64Array(n);
  for (let x = 0; x < n; x++) for (let y = 0; y < n; y++) out[x] += (D[y] * Math.exp(-dist2(sp, x, y) / (2 * h * h))) / norm[y];
  return out;
}

function randomD(n: number, seed: number, concentrated = false): Float64Array {
  const r = rng(seed);
  const D = new Float64Array(n);
  let s = 0;
  for (let j = 0; j < n; j++) {
    D[j] = concentrated ? (r() < 0.05 ? r() : 0) : 0.2 + r();
    s += D[j];
  }
  if (s === 0) D[0] = s = 1;
  for (let j = 0; j < n; j++) D[j] /= s;
  return D;
}

function maxRelative(a: Float64Array, b: Float64Array): number {
  let worst = 0;
  for (let j = 0; j < a.length; j++) worst = Math.max(worst, Math.abs(a[j] - b[j]) / Math.abs(b[j]));
  return worst;
}

function maxAbs(a: Float64Array, b: Float64Array): number {
  let worst = 0;
  for (let j = 0; j < a.length; j++) worst = Math.max(worst, Math.abs(a[j] - b[j]));
  return worst;
}

describe('kernel model on a grid: separable and windowed, equal to the O(n^2) formula', () => {
  const grids: [string, NormalizedSupport, number][] = [
    ['1-D, narrow kernel', { kind: 'grid', min: [-3], max: [3], n: [301] }, 0.05],
    ['1-D, medium kernel', { kind: 'grid', min: [-12], max: [12], n: [401] }, 0.7],
    ['1-D, kernel wider than the grid', { kind: 'grid', min: [0], max: [1], n: [150] }, 4],
    ['2-D, unequal axes', { kind: 'grid', min: [-2, -1], max: [2, 3], n: [31, 23] }, 0.3],
    ['2-D, narrow along one axis only', { kind: 'grid', min: [-2, -40], max: [2, 40], n: [25, 33] }, 0.4],
    ['3-D', { kind: 'grid', min: [-1, -1, 0], max: [1, 2, 1], n: [9, 8, 7] }, 0.35],
  ];
  for (const [name, support, h] of grids) {
    it(`${name} (h = ${h})`, () => {
      const sp = buildSupport(support);
      const fitter = createFitter({ kind: 'kernel', bandwidth: h }, support, sp)!;
      const out = new Float64Array(sp.n);
      // Mass everywhere: every atom's value is compared relative to itself.
      const D = randomD(sp.n, 7);
      fitter.fit(D, out);
      const ref = naiveKernel(sp, D, h);
      expect(maxRelative(out, ref)).toBeLessThan(1e-13);
      // Mass on a few atoms: far atoms are ~0 either way, so compare against the largest value.
      const C = randomD(sp.n, 11, true);
      fitter.fit(C, out);
      const refC = naiveKernel(sp, C, h);
      const top = refC.reduce((a, b) => Math.max(a, b), 0);
      expect(maxAbs(out, refC)).toBeLessThan(1e-13 * top);
      // Mass is conserved.
      expect(Math.abs(out.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-14);
    });
  }

  it('a kernel whose band would not stay in cache takes the by-offset table, still equal to the formula', () => {
    const support: NormalizedSupport = { kind: 'grid', min: [-12], max: [12], n: [2001] };
    expect(2001 * (2 * kernelHalfWindow(-12, 12, 2001, 0.5) + 1)).toBeGreaterThan(1 << 17);
    const sp = buildSupport(support);
    const fitter = createFitter({ kind: 'kernel', bandwidth: 0.5 }, support, sp)!;
    const D = randomD(sp.n, 13);
    const out = new Float64Array(sp.n);
    fitter.fit(D, out);
    expect(maxRelative(out, naiveKernel(sp, D, 0.5))).toBeLessThan(1e-13);
  });

  it('a wide kernel on a long axis takes the by-offset table, still equal to the formula', () => {
    const support: NormalizedSupport = { kind: 'grid', min: [-5], max: [5], n: [2100] };
    expect(2100 * (2 * kernelHalfWindow(-5, 5, 2100, 3) + 1)).toBeGreaterThan(1 << 22);
    const sp = buildSupport(support);
    const fitter = createFitter({ kind: 'kernel', bandwidth: 3 }, support, sp)!;
    const D = randomD(sp.n, 3);
    const out = new Float64Array(sp.n);
    fitter.fit(D, out);
    expect(maxRelative(out, naiveKernel(sp, D, 3))).toBeLessThan(1e-13);
  });

  it('the window is what makes it cheap: a narrow kernel touches a few cells per atom', () => {
    expect(kernelHalfWindow(-12, 12, 4001, 0.1)).toBeLessThan(160);
    expect(kernelHalfWindow(-12, 12, 4001, 100)).toBe(4000);
  });
});

describe('kernel model on points: the formula itself', () => {
  it('equals the naive sum', () => {
    const r = rng(5);
    const points = Array.from({ length: 60 }, () => [4 * r() - 2, 3 * r()]);
    const support: NormalizedSupport = { kind: 'points', points };
    const sp = buildSupport(support);
    const D = randomD(sp.n, 9);
    const out = new Float64Array(sp.n);
    createFitter({ kind: 'kernel', bandwidth: 0.4 }, support, sp)!.fit(D, out);
    expect(maxRelative(out, naiveKernel(sp, D, 0.4))).toBeLessThan(1e-13);
  });
});

/** Inverse and determinant of a small symmetric matrix by cofactors (d <= 3). */
function inverse(S: number[][]): { inv: number[][]; det: number } {
  const d = S.length;
  if (d === 1) return { inv: [[1 / S[0][0]]], det: S[0][0] };
  if (d === 2) {
    const det = S[0][0] * S[1][1] - S[0][1] * S[1][0];
    return { inv: [[S[1][1] / det, -S[0][1] / det], [-S[1][0] / det, S[0][0] / det]], det };
  }
  const [a, b, c] = S;
  const det = a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0]) + a[2] * (b[0] * c[1] - b[1] * c[0]);
  const cof = (i: number, j: number) => {
    const m = S.filter((_, r) => r !== i).map((row) => row.filter((_, cc) => cc !== j));
    return ((i + j) % 2 ? -1 : 1) * (m[0][0] * m[1][1] - m[0][1] * m[1][0]);
  };
  const inv = [0, 1, 2].map((i) => [0, 1, 2].map((j) => cof(j, i) / det));
  return { inv, det };
}

function pointsOf(sp: SupportPoints): number[][] {
  return Array.from({ length: sp.n }, (_, j) => Array.from(sp.coords.subarray(j * sp.d, (j + 1) * sp.d)));
}

function momentMatch(X: number[][], D: ArrayLike<number>, s: number): { mu: number[]; S: number[][] } {
  const d = X[0].length;
  const mu = new Array(d).fill(0);
  X.forEach((x, j) => x.forEach((v, k) => (mu[k] += D[j] * v)));
  const S = mu.map(() => new Array(d).fill(0));
  X.forEach((x, j) => {
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) S[a][b] += D[j] * (x[a] - mu[a]) * (x[b] - mu[b]);
  });
  for (let a = 0; a < d; a++) S[a][a] += s * s;
  return { mu, S };
}

function quad(x: number[], mu: number[], inv: number[][]): number {
  let q = 0;
  for (let a = 0; a < x.length; a++) for (let b = 0; b < x.length; b++) q += (x[a] - mu[a]) * inv[a][b] * (x[b] - mu[b]);
  return q;
}

describe('gaussian model: moment matching evaluated on X', () => {
  for (const [name, support] of [
    ['1-D grid', { kind: 'grid', min: [-3], max: [3], n: [121] }],
    ['2-D grid', { kind: 'grid', min: [-2, -1], max: [2, 3], n: [17, 13] }],
    ['3-D grid', { kind: 'grid', min: [-1, -1, 0], max: [1, 2, 1], n: [6, 5, 7] }],
  ] as [string, NormalizedSupport][]) {
    it(name, () => {
      const sp = buildSupport(support);
      const D = randomD(sp.n, 4, true);
      const out = new Float64Array(sp.n);
      createFitter({ kind: 'gaussian', minSd: 0.05 }, support, sp)!.fit(D, out);
      const X = pointsOf(sp);
      const { mu, S } = momentMatch(X, D, 0.05);
      const { inv } = inverse(S);
      const logs = X.map((x) => -quad(x, mu, inv) / 2);
      const top = Math.max(...logs);
      const un = logs.map((l) => Math.exp(l - top));
      const z = un.reduce((a, b) => a + b, 0);
      const ref = Float64Array.from(un.map((u) => u / z));
      expect(maxAbs(out, ref)).toBeLessThan(1e-13 * Math.max(...ref));
    });
  }
});

// ---- an independent, straightforward mixture EM and whole-run reference ----

interface Params { pi: number[]; mu: number[][]; S: number[][][] }

function logGauss(x: number[], mu: number[], S: number[][]): number {
  const { inv, det } = inverse(S);
  return -0.5 * quad(x, mu, inv) - 0.5 * Math.log(det) - (x.length / 2) * Math.log(2 * Math.PI);
}

function naiveMixtureFit(X: number[][], D: number[], k: number, e: number, s: number, prev: Params | null): { fit: number[]; params: Params } {
  const n = X.length;
  let P: Params;
  if (!prev) {
    const order = X.map((x, j) => j).sort((a, b) => X[a][0] - X[b][0] || a - b);
    const assign = new Array(n).fill(0);
    let before = 0;
    for (const j of order) {
      assign[j] = Math.min(k - 1, Math.floor(k * before));
      before += D[j];
    }
    const single = momentMatch(X, D, s);
    P = { pi: [], mu: [], S: [] };
    for (let c = 0; c < k; c++) {
      const w = D.map((v, j) => (assign[j] === c ? v : 0));
      const pc = w.reduce((a, b) => a + b, 0);
      P.pi.push(pc);
      if (pc === 0) {
        P.mu.push(single.mu);
        P.S.push(single.S);
      } else {
        const mm = momentMatch(X, w.map((v) => v / pc), s);
        P.mu.push(mm.mu);
        P.S.push(mm.S);
      }
    }
  } else P = prev;
  for (let step = 0; step < e; step++) {
    const g = X.map((x) =>
      P.pi.map((pc, c) => (pc > 0 ? Math.log(pc) + logGauss(x, P.mu[c], P.S[c]) : -Infinity)),
    );
    const next: Params = { pi: [], mu: [], S: [] };
    for (let c = 0; c < k; c++) {
      const w = X.map((_, j) => {
        const top = Math.max(...g[j]);
        const tot = g[j].reduce((a, l) => a + Math.exp(l - top), 0);
        return (D[j] * Math.exp(g[j][c] - top)) / tot;
      });
      const pc = w.reduce((a, b) => a + b, 0);
      next.pi.push(pc);
      if (pc === 0) {
        next.mu.push(P.mu[c]);
        next.S.push(P.S[c]);
      } else {
        const mm = momentMatch(X, w.map((v) => v / pc), s);
        next.mu.push(mm.mu);
        next.S.push(mm.S);
      }
    }
    P = next;
  }
  const logf = X.map((x) => {
    const ls = P.pi.map((pc, c) => (pc > 0 ? Math.log(pc) + logGauss(x, P.mu[c], P.S[c]) : -Infinity));
    const top = Math.max(...ls);
    return top + Math.log(ls.reduce((a, l) => a + Math.exp(l - top), 0));
  });
  const top = Math.max(...logf);
  const un = logf.map((l) => Math.exp(l - top));
  const z = un.reduce((a, b) => a + b, 0);
  return { fit: un.map((u) => u / z), params: P };
}

describe('mixture model: the contract EM, whole runs against an independent implementation', () => {
  const cases: [string, Record<string, unknown>][] = [
    [
      '1-D grid, two rewards, k = 3, e = 2, real data',
      {
        support: { kind: 'grid', min: -4, max: 4, n: 81 },
        rewards: [{ kind: 'quadratic', center: -1.5 }, { kind: 'gaussian', center: 2, width: 0.7, height: 3, beta: 1.5 }],
        q: 0.4,
        realFraction: 0.1,
        model: { kind: 'mixture', components: 3, emSteps: 2, minSd: 0.01 },
      },
    ],
    [
      '2-D points, one reward, k = 3, e = 1: one atom holds most mass, so the middle component starts empty',
      {
        support: { kind: 'points', points: [[0, 0], [0, 1], [1, 0], [1, 1], [2, 2], [3, 1], [0.5, 2.5], [2.5, 0.5], [3, 3], [1.5, 1.5]] },
        init: { kind: 'table', values: [1, 1, 1, 1, 30, 1, 1, 1, 1, 1] },
        rewards: [{ kind: 'abs', center: [2, 2] }],
        model: { kind: 'mixture', components: 3, minSd: 0.3 },
      },
    ],
  ];
  for (const [name, cfg] of cases) {
    it(name, () => {
      const T = 6;
      const config = { ...cfg, iterations: T };
      const v = validateConfig(config);
      if (!v.ok) throw new Error(JSON.stringify(v.issues));
      const c = v.config;
      const out = simulate(config, { includeDistribution: true });
      const sp = buildSupport(c.support);
      const X = pointsOf(sp);
      // Reference: K = inf curation, real data, then the naive EM.
      const p0 = Array.from(buildInit(c.init, sp));
      const r = allRewardValues(c.rewards, sp);
      let p = p0.slice();
      let params: Params | null = null;
      let empties = 0;
      const mm = c.model as { components: number; emSteps: number; minSd: number };
      for (let t = 0; t < T; t++) {
        const tilde = new Array(p.length).fill(0);
        c.rewards.forEach((rw, i) => {
          const e = Array.from(r[i], (x) => Math.exp(rw.beta * x));
          const z = p.reduce((a, pj, j) => a + pj * e[j], 0);
          p.forEach((pj, j) => (tilde[j] += (c.weights[i] * pj * e[j]) / z));
        });
        const tot = tilde.reduce((a, b) => a + b, 0);
        const D = tilde.map((v, j) => c.realFraction * p0[j] + ((1 - c.realFraction) * v) / tot);
        const res = naiveMixtureFit(X, D, mm.components, mm.emSteps, mm.minSd, params);
        if (t === 0) empties = res.params.pi.filter((x) => x === 0).length;
        params = res.params;
        p = res.fit;
      }
      const got = out.distribution!;
      const top = Math.max(...p);
      for (let j = 0; j < p.length; j++) expect(Math.abs(got[j] - p[j])).toBeLessThan(1e-12 * top);
      expect(empties).toBe(name.includes('starts empty') ? 1 : 0);
    });
  }
});
