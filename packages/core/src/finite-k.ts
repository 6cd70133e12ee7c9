// Finite-K curation multiplier (contract section 2, exact mode).
//
//   H(x) = E_{y_1..y_{K-1} iid ~ p} [ K e^{s(x)} / (e^{s(x)} + sum_j e^{s(y_j)}) ]
//
// Laplace identity with t = e^tau, written in absolute s (no shift is needed,
// H depends on differences of s only):
//
//   H(x) = K * integral g(s_x + tau) * Psi(tau) dtau,
//   g(z) = e^z exp(-e^z),   F(z) = exp(-e^z),
//   Psi(tau) = phi(tau)^(K-1),   phi(tau) = sum_y p_y F(s_y + tau).
//
// Algorithm (all constants below are justified in the comments next to them):
//  * Trapezoid rule in tau on the fixed grid tau_k = k*h, h = 1/4 (dyadic, so
//    s_y + k*h is computed exactly whenever it is small: Sterbenz).  The
//    integrand is analytic and bounded in |Im tau| < pi/2, so the rule's
//    relative error is about 2e*(2pi/h)*exp(-pi^2/h) ~ 1e-15.
//  * For every atom, F and g are needed only on a window of W nodes where
//    z = s_y + k*h lies in [ZB, ZHI) = [-3, 3.75):
//      - above ZHI, F and g are below exp(-e^3.75) ~ 4e-19 (dropped; the
//        dropped part of every integral is < 4e-19 relative);
//      - below ZB they are replaced by their power series in e^z,
//        F = sum_j (-e^z)^j/j!,  g = sum_j (-1)^j e^{(j+1)z}/j!,  truncated
//        after j = J = 9 (remainder < e^{-30}/10! ~ 3e-20 relative).  The
//        series parts are geometric in k, so their sums over all atoms (for
//        phi) and over all nodes (for H) are first-order recurrences along the
//        grid: no exp at all per call, and O(J) work per node and per atom.
//    Window values are precomputed once (s is fixed for the run).
//  * Nodes are needed only where some atom's window or series is not yet
//    negligible (z >= ZLO ~ -45); between such stretches (possible only for
//    very wide reward ranges) phi is constant and the recurrences are advanced
//    over the gap in closed form, so huge s ranges cost O(n) nodes, not O(range/h).
//  * Psi = phi^(K-1) by binary powering (relative error ~ (K-1) ulp, as for any
//    method that forms phi), flushed to 0 once below ~1e-300.
// Everything is per call O(n * (W + 3J) + nodes * 3J) with no transcendental
// function calls; the layout is in atom order sorted by s (descending), so the
// node arrays are walked sequentially.

const H = 0.25; // quadrature step in log t (dyadic on purpose)
const ZB = -3; // series / window boundary in z = log(t a)
const ZHI = 3.75; // upper end of the windows
const J = 9; // highest series power (compute() is unrolled for exactly this value)

/** Nodes of each atom's window, rounded up to a multiple of 4 (compute() is unrolled by 4). */
const WINDOW = (Math.ceil((ZHI - ZB) / H) + 1 + 3) & ~3;

/**
 * Nodes below a window that still need phi. Below z = ZLO every atom's F is 1 and its
 * series terms are < e^ZLO relative; e^ZLO * (K-1) must stay below ~1e-18 (phi enters
 * Psi to the power K-1).
 */
function nodesBelowWindow(K: number): number {
  const ZLO = -41.5 - Math.log(K - 1);
  return Math.ceil((ZB - ZLO) / H);
}

/**
 * An upper bound on the nodes a multiplier walks for n atoms whose scores s span
 * `sRange` (max s - min s): each atom adds at most its own range of nodes, and all of
 * them lie within the span of the scores plus one range. Cost estimates use it, since
 * a call costs O(n * WINDOW + nodes).
 */
export function finiteKNodeBound(n: number, K: number, sRange: number): number {
  const own = nodesBelowWindow(K) + WINDOW;
  return Math.min(n * own, Math.floor(sRange / H) + 1 + own);
}

/** Inverse factorials with alternating sign: C[j] = (-1)^j / j!. */
const C: Float64Array = (() => {
  const c = new Float64Array(J + 2);
  let f = 1;
  for (let j = 0; j <= J + 1; j++) {
    if (j > 0) f *= j;
    c[j] = (j % 2 === 0 ? 1 : -1) / f;
  }
  return c;
})();

export class FiniteKMultiplier {
  readonly n: number;
  readonly K: number;
  /** number of window nodes per atom */
  private readonly W: number;
  /** atoms sorted by kb ascending (= s descending): sorted position -> atom index */
  private readonly perm: Int32Array;
  /** first window node of each sorted atom, as an index into the node arrays */
  private readonly base: Int32Array;
  /** F and g on each sorted atom's window: [i*W + w] */
  private readonly Fw: Float64Array;
  private readonly Gw: Float64Array;
  /** series coefficients at the node just below each window (ez = e^z there):
   *  ezA[i*(J+1) + j] = ez^j / j! (j = 1..J, for phi), ezB[i*(J+1) + j] = ez^(j+1) / j! (j = 0..J, for H);
   *  the alternating signs are applied in compute() */
  private readonly ezA: Float64Array;
  private readonly ezB: Float64Array;
  /** segments of consecutive active nodes: [start index, end index) in node arrays */
  private readonly segStart: Int32Array;
  private readonly segEnd: Int32Array;
  /** per segment s >= 1: gap length (number of skipped grid nodes before it) */
  private readonly segGap: Float64Array;
  /** Nodes of the layout (what one call walks when every atom has mass). */
  readonly nNodes: number;
  // per-call work arrays
  private readonly q: Float64Array;
  private readonly phi: Float64Array;
  private readonly psi: Float64Array;
  /** decay per node of a_j (e^{-j h}) and b_j (e^{-(j+1) h}) */
  private readonly dA: Float64Array;
  private readonly dB: Float64Array;
  /** closed-form gap factors: per segment, decay e^{-j G h} etc. */
  private readonly gapA: Float64Array;
  private readonly gapBdec: Float64Array;
  private readonly gapBsum: Float64Array;
  /** b_j / Psi at the node just below the lowest active node (Psi constant down to -inf) */
  private readonly B0init: Float64Array;
  /** per segment: Psi in the gap below it (per call) */
  private readonly psiGap: Float64Array;
  private readonly psiFlush: number;
  private readonly km1: number;
  /** nodes below each atom's window that still need phi (see the constructor) */
  private readonly L: number;

  constructor(s: Float64Array, K: number) {
    if (!Number.isInteger(K) || K < 2) throw new RangeError(`FiniteKMultiplier: K must be an integer >= 2, got ${K}`);
    const n = s.length;
    if (n === 0) throw new RangeError('FiniteKMultiplier: empty support');
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(s[i])) throw new RangeError(`FiniteKMultiplier: s[${i}] is not finite`);
    }
    this.n = n;
    this.K = K;
    this.km1 = K - 1;
    const W = WINDOW;
    this.W = W;
    const L = nodesBelowWindow(K);
    this.L = L;
    // Psi below this is flushed to zero (avoids subnormal arithmetic)
    this.psiFlush = Math.exp(-690 / (K - 1));

    // first window node kb: smallest k with s + k h >= ZB
    const kb = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let k = Math.ceil((ZB - s[i]) / H);
      if (s[i] + (k - 1) * H >= ZB) k -= 1;
      if (s[i] + k * H < ZB) k += 1;
      kb[i] = k;
    }
    const order = Array.from({ length: n }, (_, i) => i);
    order.sort((a, b) => kb[a] - kb[b] || a - b);
    this.perm = Int32Array.from(order);

    // active nodes: union over atoms of [kb - L, kb + W - 1], merged (sorted by kb)
    const starts: number[] = [];
    const ends: number[] = []; // inclusive grid k
    for (let r = 0; r < n; r++) {
      const k = kb[order[r]];
      const lo = k - L;
      const hi = k + W - 1;
      if (starts.length > 0 && lo <= ends[ends.length - 1] + 1) {
        if (hi > ends[ends.length - 1]) ends[ends.length - 1] = hi;
      } else {
        starts.push(lo);
        ends.push(hi);
      }
    }
    const nSeg = starts.length;
    this.segStart = new Int32Array(nSeg);
    this.segEnd = new Int32Array(nSeg);
    this.segGap = new Float64Array(nSeg);
    let idx = 0;
    for (let g = 0; g < nSeg; g++) {
      this.segStart[g] = idx;
      idx += ends[g] - starts[g] + 1;
      this.segEnd[g] = idx;
      this.segGap[g] = g === 0 ? 0 : starts[g] - ends[g - 1] - 1;
    }
    this.nNodes = idx;

    // map each sorted atom to its node index
    this.base = new Int32Array(n);
    {
      let g = 0;
      for (let r = 0; r < n; r++) {
        const k = kb[order[r]];
        while (k > ends[g]) g++;
        this.base[r] = this.segStart[g] + (k - starts[g]);
      }
    }

    // window values and series powers
    this.Fw = new Float64Array(n * W);
    this.Gw = new Float64Array(n * W);
    this.ezA = new Float64Array(n * (J + 1));
    this.ezB = new Float64Array(n * (J + 1));
    for (let r = 0; r < n; r++) {
      const i = order[r];
      const k0 = kb[i];
      for (let w = 0; w < W; w++) {
        const z = s[i] + (k0 + w) * H;
        const ez = Math.exp(z);
        const F = Math.exp(-ez);
        this.Fw[r * W + w] = F;
        this.Gw[r * W + w] = ez * F;
      }
      const e1 = Math.exp(s[i] + (k0 - 1) * H);
      let e = 1;
      for (let j = 0; j <= J; j++) {
        // e = e1^j
        if (j >= 1) this.ezA[r * (J + 1) + j] = Math.abs(C[j]) * e;
        this.ezB[r * (J + 1) + j] = Math.abs(C[j]) * e * e1;
        e *= e1;
      }
    }

    // recurrence constants
    this.dA = new Float64Array(J + 1);
    this.dB = new Float64Array(J + 1);
    this.B0init = new Float64Array(J + 1);
    for (let j = 0; j <= J; j++) {
      this.dA[j] = Math.exp(-j * H);
      this.dB[j] = Math.exp(-(j + 1) * H);
      this.B0init[j] = 1 / Math.expm1((j + 1) * H); // sum_{m>=1} e^{-(j+1) m h}
    }
    this.gapA = new Float64Array(nSeg * (J + 1));
    this.gapBdec = new Float64Array(nSeg * (J + 1));
    this.gapBsum = new Float64Array(nSeg * (J + 1));
    this.psiGap = new Float64Array(nSeg);
    for (let g = 1; g < nSeg; g++) {
      const G = this.segGap[g];
      for (let j = 0; j <= J; j++) {
        // A_j descends over the G gap nodes (it has already been decayed one step)
        this.gapA[g * (J + 1) + j] = Math.exp(-j * G * H);
        // B_j ascends over G gap nodes (constant Psi) and then one more step
        const d = (j + 1) * H;
        this.gapBdec[g * (J + 1) + j] = Math.exp(-d * G);
        this.gapBsum[g * (J + 1) + j] = -Math.expm1(-d * G) / -Math.expm1(-d); // sum_{m=0}^{G-1} e^{-d m}
      }
    }

    this.q = new Float64Array(n);
    this.phi = new Float64Array(this.nNodes);
    this.psi = new Float64Array(this.nNodes);
  }

  /**
   * out[j] = H(x_j) for every atom j under distribution p (p is normalised internally).
   * With `onlyWithMass`, atoms with p_j = 0 are skipped and out[j] is left as it was:
   * the dynamics only use p_j H(x_j), and in a collapsing run most atoms are extinct.
   * The node recurrences then also cover only the nodes the atoms with mass need:
   * from L nodes below the lowest of their windows (below that, phi = P exactly as in
   * the gaps between segments, the criterion the node layout itself uses) to the top
   * of the highest. A collapsed run thus costs O(n) plus the live atoms' range per
   * call instead of O(all nodes).
   */
  compute(p: Float64Array, out: Float64Array, onlyWithMass = false): void {
    const n = this.n;
    const W = this.W;
    const perm = this.perm;
    const base = this.base;
    const q = this.q;
    const phi = this.phi;
    const psi = this.psi;
    const Fw = this.Fw;
    const Gw = this.Gw;
    const ezA = this.ezA;
    const ezB = this.ezB;
    const psiGap = this.psiGap;
    const km1 = this.km1;
    const psiFlush = this.psiFlush;
    const JP = J + 1;
    const TINY = 1e-298;

    // compensated sums: with K-1 up to ~64 the relative error of phi near 1 is
    // amplified K-1 times, so a naive running sum over thousands of atoms (which
    // drifts systematically for near-uniform p) would cost ~1e-13 on H
    let total = 0;
    let totalC = 0;
    for (let i = 0; i < n; i++) {
      const v = p[i];
      const tt = total + v;
      totalC += Math.abs(total) >= Math.abs(v) ? total - tt + v : v - tt + total;
      total = tt;
    }
    total += totalC;
    if (!(total > 0) || !Number.isFinite(total)) throw new RangeError('FiniteKMultiplier.compute: p must have positive finite mass');
    const inv = 1 / total;
    // sorted positions of the first and last atom with mass (all atoms without the option)
    let rMin = 0;
    let rMax = n - 1;
    if (onlyWithMass) {
      rMin = n;
      rMax = -1;
      for (let r = 0; r < n; r++) {
        const v = p[perm[r]] * inv;
        q[r] = v;
        if (v !== 0) {
          if (rMin === n) rMin = r;
          rMax = r;
        }
      }
      if (rMax < 0) throw new RangeError('FiniteKMultiplier.compute: p must have positive finite mass');
    } else {
      for (let r = 0; r < n; r++) q[r] = p[perm[r]] * inv;
    }

    // ---- the nodes to walk: [lo, hi) in segments gLo..gHi ----
    const nSeg = this.segStart.length;
    const segStart = this.segStart;
    const segEnd = this.segEnd;
    let lo = 0;
    let hi = this.nNodes;
    let gLo = 0;
    let gHi = nSeg - 1;
    if (onlyWithMass) {
      // An atom's own range [base - L, base + W) lies in one segment (the layout merged it whole).
      lo = base[rMin] - this.L;
      hi = base[rMax] + W;
      while (segEnd[gLo] <= lo) gLo++;
      gHi = gLo;
      while (segEnd[gHi] < hi) gHi++;
    }

    // ---- phi: windows ----
    phi.fill(0, lo, hi);
    for (let r = rMin; r <= rMax; r++) {
      const qr = q[r];
      if (qr === 0) continue;
      const b = base[r];
      const o = r * W;
      for (let w = 0; w < W; w += 4) {
        phi[b + w] += qr * Fw[o + w];
        phi[b + w + 1] += qr * Fw[o + w + 1];
        phi[b + w + 2] += qr * Fw[o + w + 2];
        phi[b + w + 3] += qr * Fw[o + w + 3];
      }
    }

    // ---- phi: mass below the windows (P) and series (A_j), descending in k ----
    // a_j = sum over atoms in their series region of q e^{j z} / j!  (the series of
    // F is sum_j (-1)^j a_j); an atom enters at the node just below its window
    // (node base-1).  Unrolled for J = 9 (register-resident recurrences).
    const dA = this.dA;
    const dB = this.dB;
    const dA1 = dA[1];
    const dA2 = dA[2];
    const dA3 = dA[3];
    const dA4 = dA[4];
    const dA5 = dA[5];
    const dA6 = dA[6];
    const dA7 = dA[7];
    const dA8 = dA[8];
    const dA9 = dA[9];
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    let a4 = 0;
    let a5 = 0;
    let a6 = 0;
    let a7 = 0;
    let a8 = 0;
    let a9 = 0;
    let P = 0; // mass of the atoms below their windows (= P0 + Pc, Neumaier-compensated)
    let P0 = 0;
    let Pc = 0;
    let ptr = rMax;
    for (let g = gHi; g >= gLo; g--) {
      const s0 = g === gLo ? lo : segStart[g];
      for (let m = (g === gHi ? hi : segEnd[g]) - 1; m >= s0; m--) {
        // atoms entering at m
        while (ptr >= 0 && base[ptr] - 1 === m) {
          const qr = q[ptr];
          if (qr !== 0) {
            const tt = P0 + qr;
            Pc += P0 >= qr ? P0 - tt + qr : qr - tt + P0;
            P0 = tt;
            P = P0 + Pc;
            const o = ptr * JP;
            a1 += qr * ezA[o + 1];
            a2 += qr * ezA[o + 2];
            a3 += qr * ezA[o + 3];
            a4 += qr * ezA[o + 4];
            a5 += qr * ezA[o + 5];
            a6 += qr * ezA[o + 6];
            a7 += qr * ezA[o + 7];
            a8 += qr * ezA[o + 8];
            a9 += qr * ezA[o + 9];
          }
          ptr--;
        }
        const ser = ((a8 - a9) + (a6 - a7)) + ((a4 - a5) + (a2 - a3)) - a1;
        const f = P + phi[m] + ser;
        phi[m] = f;
        psi[m] = f > psiFlush ? ipow(f, km1) : 0;
        // decay one step (to node m-1), flushing what can no longer matter
        a1 *= dA1;
        a2 *= dA2;
        a3 *= dA3;
        a4 *= dA4;
        a5 *= dA5;
        a6 *= dA6;
        a7 *= dA7;
        a8 *= dA8;
        a9 *= dA9;
        if ((m & 7) === 0) {
          // every 8 nodes is enough: 8 steps decay by at most e^{-20}, so nothing
          // above TINY can reach the subnormal range in between
          if (a1 < TINY) a1 = 0;
          if (a2 < TINY) a2 = 0;
          if (a3 < TINY) a3 = 0;
          if (a4 < TINY) a4 = 0;
          if (a5 < TINY) a5 = 0;
          if (a6 < TINY) a6 = 0;
          if (a7 < TINY) a7 = 0;
          if (a8 < TINY) a8 = 0;
          if (a9 < TINY) a9 = 0;
        }
      }
      // the gap below segment g (below node lo for gLo): phi there is P (all atoms far
      // below or far above their windows)
      psiGap[g] = P > psiFlush ? ipow(P, km1) : 0;
      if (g > gLo) {
        const o = g * JP;
        const gA = this.gapA;
        a1 *= gA[o + 1];
        a2 *= gA[o + 2];
        a3 *= gA[o + 3];
        a4 *= gA[o + 4];
        a5 *= gA[o + 5];
        a6 *= gA[o + 6];
        a7 *= gA[o + 7];
        a8 *= gA[o + 8];
        a9 *= gA[o + 9];
      }
    }

    // ---- H: series part via b_j (ascending in k), window part directly ----
    // b_j(m) = sum_{k <= m} e^{(j+1)(k-m)h} Psi_k; series part of atom x at its top
    // series node m: sum_j (-1)^j ez^{j+1}/j! b_j(m).
    const KH = this.K * H;
    const dB0 = dB[0];
    const dB1 = dB[1];
    const dB2 = dB[2];
    const dB3 = dB[3];
    const dB4 = dB[4];
    const dB5 = dB[5];
    const dB6 = dB[6];
    const dB7 = dB[7];
    const dB8 = dB[8];
    const dB9 = dB[9];
    const psi0 = psiGap[gLo];
    let b0 = psi0 * this.B0init[0];
    let b1 = psi0 * this.B0init[1];
    let b2 = psi0 * this.B0init[2];
    let b3 = psi0 * this.B0init[3];
    let b4 = psi0 * this.B0init[4];
    let b5 = psi0 * this.B0init[5];
    let b6 = psi0 * this.B0init[6];
    let b7 = psi0 * this.B0init[7];
    let b8 = psi0 * this.B0init[8];
    let b9 = psi0 * this.B0init[9];
    let ptrUp = rMin;
    for (let g = gLo; g <= gHi; g++) {
      if (g > gLo) {
        const o = g * JP;
        const pg = psiGap[g];
        const gd = this.gapBdec;
        const gs = this.gapBsum;
        b0 = gd[o + 0] * b0 + pg * gs[o + 0];
        b1 = gd[o + 1] * b1 + pg * gs[o + 1];
        b2 = gd[o + 2] * b2 + pg * gs[o + 2];
        b3 = gd[o + 3] * b3 + pg * gs[o + 3];
        b4 = gd[o + 4] * b4 + pg * gs[o + 4];
        b5 = gd[o + 5] * b5 + pg * gs[o + 5];
        b6 = gd[o + 6] * b6 + pg * gs[o + 6];
        b7 = gd[o + 7] * b7 + pg * gs[o + 7];
        b8 = gd[o + 8] * b8 + pg * gs[o + 8];
        b9 = gd[o + 9] * b9 + pg * gs[o + 9];
      }
      const s1 = g === gHi ? hi : segEnd[g];
      for (let m = g === gLo ? lo : segStart[g]; m < s1; m++) {
        const pm = psi[m];
        b0 = b0 * dB0 + pm;
        b1 = b1 * dB1 + pm;
        b2 = b2 * dB2 + pm;
        b3 = b3 * dB3 + pm;
        b4 = b4 * dB4 + pm;
        b5 = b5 * dB5 + pm;
        b6 = b6 * dB6 + pm;
        b7 = b7 * dB7 + pm;
        b8 = b8 * dB8 + pm;
        b9 = b9 * dB9 + pm;
        if ((m & 7) === 0) {
          if (b0 < TINY) b0 = 0;
          if (b1 < TINY) b1 = 0;
          if (b2 < TINY) b2 = 0;
          if (b3 < TINY) b3 = 0;
          if (b4 < TINY) b4 = 0;
          if (b5 < TINY) b5 = 0;
          if (b6 < TINY) b6 = 0;
          if (b7 < TINY) b7 = 0;
          if (b8 < TINY) b8 = 0;
          if (b9 < TINY) b9 = 0;
        }
        // atoms whose top series node is m
        while (ptrUp <= rMax && base[ptrUp] - 1 === m) {
          if (onlyWithMass && q[ptrUp] === 0) {
            ptrUp++;
            continue;
          }
          const o = ptrUp * JP;
          const ser =
            ((ezB[o + 8] * b8 - ezB[o + 9] * b9) + (ezB[o + 6] * b6 - ezB[o + 7] * b7)) +
            ((ezB[o + 4] * b4 - ezB[o + 5] * b5) + (ezB[o + 2] * b2 - ezB[o + 3] * b3)) +
            (ezB[o] * b0 - ezB[o + 1] * b1);
          const b = base[ptrUp];
          const ow = ptrUp * W;
          // 4 independent accumulators (W is a multiple of 4): breaks the add latency chain
          let w0 = 0;
          let w1 = 0;
          let w2 = 0;
          let w3 = 0;
          for (let w = 0; w < W; w += 4) {
            w0 += Gw[ow + w] * psi[b + w];
            w1 += Gw[ow + w + 1] * psi[b + w + 1];
            w2 += Gw[ow + w + 2] * psi[b + w + 2];
            w3 += Gw[ow + w + 3] * psi[b + w + 3];
          }
          const win = (w0 + w1) + (w2 + w3);
          out[perm[ptrUp]] = KH * (ser + win);
          ptrUp++;
        }
      }
    }
  }
}

/** x^e for a positive integer e (binary powering; relative error ~ log2(e) ulp + e * rel.err(x)). */
function ipow(x: number, e: number): number {
  let r = 1;
  for (;;) {
    if (e & 1) r *= x;
    e >>>= 1;
    if (e === 0) return r;
    x *= x;
  }
}
