import { describe, expect, it } from 'vitest';
import { FiniteKMultiplier } from '../src/finite-k.ts';

// ---------------------------------------------------------------------------
// Slow, obviously-correct references
// ---------------------------------------------------------------------------

/** Neumaier-compensated sum (naive running sums drift by ~n ulp for near-uniform terms). */
function fsum(xs: ArrayLike<number>): number {
  let s = 0;
  let c = 0;
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i];
    const t = s + v;
    c += Math.abs(s) >= Math.abs(v) ? s - t + v : v - t + s;
    s = t;
  }
  return s + c;
}

function normalise(p: Float64Array): Float64Array {
  const t = fsum(p);
  return p.map((v) => v / t);
}

/** Exact expectation over all multisets of K-1 draws (multinomial enumeration). */
function enumerate(s: Float64Array, p0: Float64Array, K: number): Float64Array {
  const n = s.length;
  const p = normalise(p0);
  const out = new Float64Array(n);
  const c = new Int32Array(n);
  const logFact = (m: number) => {
    let r = 0;
    for (let i = 2; i <= m; i++) r += Math.log(i);
    return r;
  };
  const rec = (i: number, left: number) => {
    if (i === n - 1) {
      c[i] = left;
      // probability of this composition
      let lp = logFact(K - 1);
      for (let y = 0; y < n; y++) {
        if (c[y] === 0) continue;
        if (p[y] === 0) return;
        lp += c[y] * Math.log(p[y]) - logFact(c[y]);
      }
      const prob = Math.exp(lp);
      for (let x = 0; x < n; x++) {
        // K e^{s_x} / (e^{s_x} + sum_y c_y e^{s_y}) = K / (1 + sum_y c_y e^{s_y - s_x})
        let d = 1;
        for (let y = 0; y < n; y++) if (c[y] > 0) d += c[y] * Math.exp(s[y] - s[x]);
        out[x] += (prob * K) / d;
      }
      return;
    }
    for (let k = 0; k <= left; k++) {
      c[i] = k;
      rec(i + 1, left - k);
    }
  };
  rec(0, K - 1);
  return out;
}

/** K = 2 closed form: H(x) = 2 sum_y p(y) e^{s(x)} / (e^{s(x)} + e^{s(y)}). */
function closedK2(s: Float64Array, p0: Float64Array): Float64Array {
  const n = s.length;
  const p = normalise(p0);
  const out = new Float64Array(n);
  for (let x = 0; x < n; x++) {
    let acc = 0;
    for (let y = 0; y < n; y++) {
      if (p[y] === 0) continue;
      const d = s[y] - s[x];
      acc += p[y] * (d > 0 ? Math.exp(-d) / (1 + Math.exp(-d)) : 1 / (1 + Math.exp(d)));
    }
    out[x] = 2 * acc;
  }
  return out;
}

/**
 * Direct trapezoid quadrature of the Laplace identity in tau = log t, step 1/16,
 * over a generous range, one exp per (atom, node), in u = s - max_{p>0} s.
 */
function directQuadrature(s: Float64Array, p0: Float64Array, K: number, h = 1 / 16): Float64Array {
  const n = s.length;
  const p = normalise(p0);
  let smax = -Infinity;
  let smin = Infinity;
  for (let i = 0; i < n; i++) {
    if (p[i] > 0) {
      smax = Math.max(smax, s[i]);
      smin = Math.min(smin, s[i]);
    }
  }
  const u = Array.from(s, (v) => v - smax);
  const t0 = -50 - Math.log(K);
  const t1 = -(smin - smax) + 7;
  const N = Math.ceil((t1 - t0) / h);
  const psi = new Float64Array(N + 1);
  for (let k = 0; k <= N; k++) {
    const tau = t0 + k * h;
    const terms = new Float64Array(n);
    for (let y = 0; y < n; y++) if (p[y] > 0) terms[y] = p[y] * Math.exp(-Math.exp(tau + u[y]));
    psi[k] = Math.pow(fsum(terms), K - 1);
  }
  const out = new Float64Array(n);
  for (let x = 0; x < n; x++) {
    let acc = Math.exp(t0 + u[x]) * (1 - h / 2); // tail below t0 (psi = 1, g = e^z), minus the half node
    for (let k = 0; k <= N; k++) {
      const z = t0 + k * h + u[x];
      acc += h * Math.exp(z - Math.exp(z)) * psi[k];
    }
    out[x] = K * acc;
  }
  return out;
}

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

function mulberry32(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function run(s: Float64Array, p: Float64Array, K: number): Float64Array {
  const out = new Float64Array(s.length);
  new FiniteKMultiplier(s, K).compute(p, out);
  return out;
}

/** max relative error over atoms (values below `floor` compared absolutely against floor) */
function maxRel(a: Float64Array, b: Float64Array, mask?: (i: number) => boolean, floor = 1e-290): number {
  let e = 0;
  for (let i = 0; i < a.length; i++) {
    if (mask && !mask(i)) continue;
    const d = Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), floor);
    if (!(d <= e)) e = Number.isNaN(d) ? Infinity : Math.max(e, d);
  }
  return e;
}

function massIdentity(p0: Float64Array, H: Float64Array): number {
  const p = normalise(p0);
  return fsum(p.map((v, i) => v * H[i])) - 1;
}

function allFinite(a: Float64Array): boolean {
  for (const v of a) if (!Number.isFinite(v) || v < 0) return false;
  return true;
}

function benchGeometry(n: number, beta: number, D = 4): Float64Array[] {
  const s1 = new Float64Array(n);
  const s2 = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const x = -12 + ((j + 0.5) * 24) / n;
    s1[j] = -beta * (x - D / 2) ** 2;
    s2[j] = -beta * (x + D / 2) ** 2;
  }
  return [s1, s2];
}

// ---------------------------------------------------------------------------
// tests
// ---------------------------------------------------------------------------

describe('FiniteKMultiplier', () => {
  it('matches multinomial enumeration on small supports (n <= 5, K <= 8), wide s ranges included', () => {
    const rnd = mulberry32(1);
    let worst = 0;
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + (trial % 5);
      const K = 2 + (Math.floor(trial / 5) % 7);
      const width = [0.01, 1, 10, 50, 300, 1e3, 2e6][trial % 7];
      const s = Float64Array.from({ length: n }, () => (rnd() - 0.5) * width);
      const p = Float64Array.from({ length: n }, () => (rnd() < 0.1 ? 0 : rnd() ** 2 + 1e-3));
      if (p.every((v) => v === 0)) p[0] = 1;
      const ref = enumerate(s, p, K);
      const got = run(s, p, K);
      expect(allFinite(got)).toBe(true);
      const e = maxRel(got, ref);
      worst = Math.max(worst, e);
      if (e > 1e-12) throw new Error(`trial ${trial}: n=${n} K=${K} width=${width} rel err ${e}`);
    }
    expect(worst).toBeLessThan(1e-12);
  });

  it('matches the K = 2 closed form on n = 50..200', () => {
    const rnd = mulberry32(2);
    for (let trial = 0; trial < 40; trial++) {
      const n = 50 + Math.floor(rnd() * 151);
      const width = [0.1, 3, 30, 300, 3000, 2e6][trial % 6];
      const s = Float64Array.from({ length: n }, () => (rnd() - 0.5) * width);
      const p = Float64Array.from({ length: n }, () => rnd() ** 4);
      const got = run(s, p, 2);
      const ref = closedK2(s, p);
      expect(maxRel(got, ref)).toBeLessThan(1e-12);
    }
  });

  it('satisfies sum_x p(x) H(x) = 1 for narrow and wide ranges', () => {
    const rnd = mulberry32(3);
    for (const K of [2, 3, 5, 8, 16, 64]) {
      for (const width of [1e-3, 0.5, 5, 50, 500, 2e4, 2e6]) {
        const n = 300;
        const s = Float64Array.from({ length: n }, () => (rnd() - 0.5) * width);
        const p = Float64Array.from({ length: n }, () => rnd());
        const H = run(s, p, K);
        expect(allFinite(H)).toBe(true);
        expect(Math.abs(massIdentity(p, H))).toBeLessThan(1e-13);
      }
    }
  });

  it('is invariant under s -> s + c', () => {
    const rnd = mulberry32(4);
    for (const K of [2, 5, 8, 64]) {
      for (const width of [1, 40, 400]) {
        const n = 120;
        const s = Float64Array.from({ length: n }, () => (rnd() - 0.5) * width);
        const p = Float64Array.from({ length: n }, () => rnd());
        const a = run(s, p, K);
        // 1e3 (a multiple of the grid step) and a non-dyadic shift
        for (const c of [1e3, -123.456789]) {
          const b = run(s.map((v) => v + c), p, K);
          expect(maxRel(b, a)).toBeLessThan(1e-12);
        }
      }
    }
  });

  it('accepts unnormalised p (normalised internally)', () => {
    const s = Float64Array.from({ length: 30 }, (_, i) => Math.sin(i) * 7);
    const p = Float64Array.from({ length: 30 }, (_, i) => 1 + (i % 4));
    const a = run(s, p, 6);
    const b = run(s, p.map((v) => v * 1e-5), 6);
    expect(maxRel(b, a)).toBeLessThan(1e-14);
  });

  describe('extreme inputs', () => {
    it('rewards spanning [-1e4, 1e4] with beta = 100', () => {
      const rnd = mulberry32(5);
      for (const K of [2, 3, 8, 64]) {
        const n = 200;
        const r = Float64Array.from({ length: n }, () => (rnd() * 2 - 1) * 1e4);
        r[0] = -1e4;
        r[1] = 1e4;
        const s = r.map((v) => 100 * v);
        const p = Float64Array.from({ length: n }, () => rnd());
        const H = run(s, p, K);
        expect(allFinite(H)).toBe(true);
        expect(Math.abs(massIdentity(p, H))).toBeLessThan(1e-13);
        // atoms are > 1e2 apart in s: the top atom takes everything it meets
        const top = 1;
        const pn = normalise(p);
        // H(top) = K * E[1 / (1 + #other draws of top)] = (1 - (1-p)^K) / p
        expect(H[top]).toBeCloseTo((1 - (1 - pn[top]) ** K) / pn[top], 12);
        if (K === 2) expect(maxRel(H, closedK2(s, p))).toBeLessThan(1e-12);
      }
    });

    it('point mass: H = 1 on the atom, finite elsewhere', () => {
      for (const K of [2, 8, 64]) {
        const n = 101;
        const s = Float64Array.from({ length: n }, (_, i) => (i - 50) * 37.5);
        const p = new Float64Array(n);
        p[60] = 1;
        const H = run(s, p, K);
        expect(allFinite(H)).toBe(true);
        expect(Math.abs(H[60] - 1)).toBeLessThan(1e-13);
        // zero-mass atoms: H(x) = K e^{s_x} / (e^{s_x} + (K-1) e^{s_60})
        const ref = Float64Array.from(s, (v) => K / (1 + (K - 1) * Math.exp(s[60] - v)));
        expect(maxRel(H, ref)).toBeLessThan(1e-12);
      }
    });

    it('atoms with p = 0 (above and below the support of p) get finite, correct values', () => {
      const rnd = mulberry32(6);
      for (const K of [2, 4, 7]) {
        const n = 5;
        for (let trial = 0; trial < 20; trial++) {
          const s = Float64Array.from({ length: n }, () => (rnd() - 0.5) * 60);
          const p = Float64Array.from({ length: n }, (_, i) => (i < 2 ? 0 : rnd() + 0.1));
          const H = run(s, p, K);
          expect(allFinite(H)).toBe(true);
          expect(maxRel(H, enumerate(s, p, K))).toBeLessThan(1e-12);
          expect(Math.abs(massIdentity(p, H))).toBeLessThan(1e-13);
        }
      }
    });

    it('all atoms with equal s give H = 1', () => {
      for (const K of [2, 3, 8, 64]) {
        for (const c of [0, -1e6, 1e6, 0.3]) {
          const n = 17;
          const s = new Float64Array(n).fill(c);
          const p = Float64Array.from({ length: n }, (_, i) => 1 + i);
          const H = run(s, p, K);
          for (const v of H) expect(Math.abs(v - 1)).toBeLessThan(1e-13);
        }
      }
    });

    it('most mass on atoms with tiny a (a = e^-700 .. a underflowed to 0)', () => {
      // u relative to the top atom: 0 (mass 1e-6), the rest with a ~ 1e-300 or a = 0 in double
      const u = Float64Array.from([0, -690, -691.5, -700, -720, -745.5, -800, -1200, -1201]);
      const p = Float64Array.from([1e-6, 0.2, 0.1, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1]);
      for (const K of [2, 3, 5]) {
        for (const shift of [0, 5000]) {
          const s = u.map((v) => v + shift);
          const H = run(s, p, K);
          expect(allFinite(H)).toBe(true);
          expect(Math.abs(massIdentity(p, H))).toBeLessThan(1e-13);
          if (K === 2) expect(maxRel(H, closedK2(s, p))).toBeLessThan(1e-12);
        }
      }
      // n <= 5 subset against enumeration
      const u5 = Float64Array.from([0, -700, -701, -745.5, -800]);
      const p5 = Float64Array.from([1e-9, 0.3, 0.3, 0.2, 0.2]);
      for (const K of [2, 4, 8]) expect(maxRel(run(u5, p5, K), enumerate(u5, p5, K))).toBeLessThan(1e-12);
    });

    it('tiny masses (1e-300) and the all-zero-but-one tail stay finite', () => {
      const n = 40;
      const s = Float64Array.from({ length: n }, (_, i) => -i * 30);
      const p = Float64Array.from({ length: n }, (_, i) => (i === 0 ? 1 : 1e-300));
      for (const K of [2, 8]) {
        const H = run(s, p, K);
        expect(allFinite(H)).toBe(true);
        expect(Math.abs(massIdentity(p, H))).toBeLessThan(1e-13);
        if (K === 2) expect(maxRel(H, closedK2(s, p), undefined, 1e-285)).toBeLessThan(1e-12);
      }
    });

    it('only the atoms with mass: the walk over their nodes alone gives the full walk\'s values', () => {
      // Layouts with one segment, many segments with gaps (s spread over [-1e4, 1e4]), and
      // two clusters far apart (live atoms in different segments, a gap between them).
      const rnd = mulberry32(11);
      const clusters = Float64Array.from({ length: 600 }, (_, j) => (j < 300 ? -j * 0.05 : -5000 - (j - 300) * 0.05));
      const spread = Float64Array.from({ length: 1001 }, (_, j) => -1e4 + 2e4 * ((j * 0.6180339887) % 1));
      const layouts = [benchGeometry(2001, 1)[0], benchGeometry(501, 100)[0], spread, clusters];
      for (const s of layouts) {
        const n = s.length;
        for (const K of [2, 8, 64]) {
          const m = new FiniteKMultiplier(s, K);
          for (let trial = 0; trial < 12; trial++) {
            const p = new Float64Array(n);
            const kind = trial % 6;
            if (kind === 0) { const c = Math.floor(rnd() * n); for (let j = Math.max(0, c - 20); j < Math.min(n, c + 20); j++) p[j] = rnd() + 0.01; }
            else if (kind === 1) { for (let j = 0; j < n; j++) if (rnd() < 0.03) p[j] = rnd() ** 3 + 1e-12; }
            else if (kind === 2) { for (const c of [Math.floor(rnd() * n), Math.floor(rnd() * n)]) p[c] = rnd() + 0.01; }
            else if (kind === 3) p[Math.floor(rnd() * n)] = 1;
            else if (kind === 4) { p[0] = 0.5; p[n - 1] = 0.5; }
            else { p[0] = 1; p[299] = 1e-9; p[300] = 2; } // for `clusters`: both ends of the gap
            const full = new Float64Array(n);
            const live = new Float64Array(n).fill(-1);
            m.compute(p, full);
            m.compute(p, live, true);
            expect(maxRel(live, full, (i) => p[i] > 0)).toBeLessThan(1e-14);
            expect(live.every((v, i) => p[i] > 0 || v === -1)).toBe(true); // untouched where p = 0
          }
        }
      }
    });

    it('rejects bad arguments', () => {
      expect(() => new FiniteKMultiplier(new Float64Array([0, 1]), 1)).toThrow();
      expect(() => new FiniteKMultiplier(new Float64Array([0, 1]), 2.5)).toThrow();
      expect(() => new FiniteKMultiplier(new Float64Array([0, NaN]), 2)).toThrow();
    });
  });

  it('C.4 benchmark geometry (n = 2001, K = 8, D = 4, beta = 1) matches the slow reference to 1e-12', () => {
    const n = 2001;
    const K = 8;
    const ss = benchGeometry(n, 1, 4);
    const fk = ss.map((s) => new FiniteKMultiplier(s, K));
    const outs = ss.map(() => new Float64Array(n));
    const p0 = new Float64Array(n).fill(1 / n);
    const p = Float64Array.from(p0);
    // evolve with the fast code (lambda = 0: p sharpens and its tails fall to ~1e-100 and below),
    // checking the first reward against the slow reference at a few generations
    const checkAt = new Set([0, 3, 40]);
    for (let t = 0; t <= 40; t++) {
      for (let i = 0; i < 2; i++) fk[i].compute(p, outs[i]);
      if (checkAt.has(t)) {
        for (let i = 0; i < 2; i++) {
          const ref = directQuadrature(ss[i], p, K);
          const e = maxRel(outs[i], ref, (j) => p[j] > 1e-300);
          expect(e).toBeLessThan(1e-12);
          expect(Math.abs(massIdentity(p, outs[i]))).toBeLessThan(1e-13);
        }
      }
      let tot = 0;
      for (let j = 0; j < n; j++) {
        p[j] *= 0.5 * (outs[0][j] + outs[1][j]);
        tot += p[j];
      }
      for (let j = 0; j < n; j++) p[j] /= tot;
    }
  }, 120_000);
});
