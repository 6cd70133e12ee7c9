// The audit's outsideDomination (appendix B.4) for m = 2, tracked generation by
// generation:
//
//   max over t = 0..T-1 and atoms x outside S_1 and S_2 of
//   W_t(x) = w_1 e^{s_1(x)} / Z_1(t) + w_2 e^{s_2(x)} / Z_2(t).
//
// W_t is linear in (e^{s_1(x)}, e^{s_2(x)}) with positive coefficients, so its
// maximum over the outside atoms is reached on the upper-right convex hull of their
// points. The hull is built once; each generation a binary search along it finds
// the best vertex, and W is evaluated there in log space (exact to rounding, and
// overflow shows as Infinity rather than as a wrong finite number).
import type { Basins } from './metrics.ts';

/** Written for an overflowing maximum (the contract's edge case). */
export const DOMINATION_OVERFLOW = Number.MAX_VALUE;

export class OutsideDomination {
  /** The maximum so far; null before the first generation or when no atom is outside both basins. */
  value: number | null = null;
  /** Whether anything is tracked (m = 2 and some atom outside both basins). */
  readonly active: boolean;
  /** Hull vertices as atom indices, u = e^{s_1 - M_1} increasing, v = e^{s_2 - M_2} decreasing. */
  private readonly hull: Int32Array;
  private readonly hu: Float64Array;
  private readonly hv: Float64Array;
  private readonly s0: Float64Array;
  private readonly s1: Float64Array;
  private readonly lw0: number;
  private readonly lw1: number;
  private readonly top0: number;
  private readonly top1: number;

  constructor(s: Float64Array[], weights: number[], basins: Basins) {
    const outside: number[] = [];
    if (s.length === 2) {
      const { classOf, classRewards } = basins;
      for (let j = 0; j < classOf.length; j++) if (classRewards[classOf[j]].length === 0) outside.push(j);
    }
    this.active = outside.length > 0;
    this.s0 = s[0] ?? new Float64Array(0);
    this.s1 = s[1] ?? new Float64Array(0);
    this.lw0 = Math.log(weights[0] ?? 1);
    this.lw1 = Math.log(weights[1] ?? 1);
    let top0 = -Infinity;
    let top1 = -Infinity;
    for (const j of outside) {
      if (this.s0[j] > top0) top0 = this.s0[j];
      if (this.s1[j] > top1) top1 = this.s1[j];
    }
    this.top0 = top0;
    this.top1 = top1;
    // Shifted by the maximum over the outside atoms, so both coordinates are in (0, 1]
    // and the extreme points are exact; a point whose coordinate underflows is
    // dominated by an extreme point unless its other coordinate is maximal.
    const count = outside.length;
    const U = new Float64Array(count);
    const V = new Float64Array(count);
    for (let k = 0; k < count; k++) {
      U[k] = Math.exp(this.s0[outside[k]] - top0);
      V[k] = Math.exp(this.s1[outside[k]] - top1);
    }
    // Every vertex of the part of the hull that matters lies on or above the segment
    // from the highest point B to the rightmost point A, so only the points strictly
    // above it (and A and B) are sorted: usually a handful.
    let A = 0;
    let B = 0;
    for (let k = 1; k < count; k++) {
      if (U[k] > U[A] || (U[k] === U[A] && V[k] > V[A])) A = k;
      if (V[k] > V[B] || (V[k] === V[B] && U[k] > U[B])) B = k;
    }
    const kept: number[] = [A];
    if (B !== A) kept.push(B);
    const du = U[A] - U[B];
    const dv = V[A] - V[B];
    for (let k = 0; k < count; k++) {
      if (k !== A && k !== B && du * (V[k] - V[B]) - dv * (U[k] - U[B]) > 0) kept.push(k);
    }
    const order = kept.sort((a, b) => U[a] - U[b] || V[a] - V[b] || a - b);
    const chain = new Int32Array(order.length);
    let len = 0;
    for (let r = 0; r < order.length; r++) {
      const q = order[r];
      while (len >= 2) {
        const a = chain[len - 2];
        const b = chain[len - 1];
        // Pop b unless a -> b -> q turns clockwise (b strictly above the segment a q).
        if ((U[b] - U[a]) * (V[q] - V[a]) - (V[b] - V[a]) * (U[q] - U[a]) >= 0) len--;
        else break;
      }
      chain[len++] = q;
    }
    // The upper hull runs from the leftmost point over the top to the rightmost; only the
    // part from the highest point on (u up, v down) can maximise a positive combination.
    let start = 0;
    for (let k = 1; k < len; k++) if (V[chain[k]] >= V[chain[start]]) start = k;
    const size = len - start;
    this.hull = new Int32Array(size);
    this.hu = new Float64Array(size);
    this.hv = new Float64Array(size);
    for (let k = 0; k < size; k++) {
      const q = chain[start + k];
      this.hull[k] = outside[q];
      this.hu[k] = U[q];
      this.hv[k] = V[q];
    }
  }

  /** Number of hull vertices (for tests and cost). */
  get vertices(): number {
    return this.hull.length;
  }

  /**
   * Generation t's multiplier, given log Z_i(t) = log sum_y p_t(y) e^{s_i(y)}.
   * Returns W_t's maximum over the outside atoms and folds it into `value`.
   */
  observe(logZ0: number, logZ1: number): number {
    if (!this.active) return NaN;
    // Direction (alpha, beta) proportional to the coefficients of (u, v).
    const la = this.lw0 + this.top0 - logZ0;
    const lb = this.lw1 + this.top1 - logZ1;
    const mx = Math.max(la, lb);
    const alpha = Math.exp(la - mx);
    const beta = Math.exp(lb - mx);
    const { hu, hv } = this;
    // f(k) = alpha u_k + beta v_k is concave along the chain: find the first k whose
    // successor is not better.
    let lo = 0;
    let hi = hu.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (alpha * (hu[mid + 1] - hu[mid]) + beta * (hv[mid + 1] - hv[mid]) > 0) lo = mid + 1;
      else hi = mid;
    }
    let best = -Infinity;
    for (let k = Math.max(0, lo - 1); k <= Math.min(hu.length - 1, lo + 1); k++) {
      const j = this.hull[k];
      const w = Math.exp(this.lw0 + this.s0[j] - logZ0) + Math.exp(this.lw1 + this.s1[j] - logZ1);
      if (w > best) best = w;
    }
    const value = best > DOMINATION_OVERFLOW ? DOMINATION_OVERFLOW : best;
    if (this.value === null || value > this.value) this.value = value;
    return value;
  }
}

/**
 * log sum_y p(y) e^{s(y)} without overflow or underflow: from e^{s - max s}
 * precomputed over all atoms (`E`, `shift` = max s) when that sum is safely
 * normal, else by a log-sum-exp over the atoms with mass.
 */
export function logNormaliser(p: Float64Array, s: Float64Array, E: Float64Array, shift: number): number {
  const n = p.length;
  let z = 0;
  for (let j = 0; j < n; j++) z += p[j] * E[j];
  if (z > 1e-250) return shift + Math.log(z);
  let top = -Infinity;
  for (let j = 0; j < n; j++) if (p[j] > 0 && s[j] > top) top = s[j];
  let acc = 0;
  for (let j = 0; j < n; j++) if (p[j] > 0) acc += p[j] * Math.exp(s[j] - top);
  return top + Math.log(acc);
}
