// Model families (contract 2.2): Fit maps the training distribution D on X to the
// model's next distribution on X. `exact` is the identity and has no Fitter.
import type { NormalizedModel, NormalizedSupport } from './types.ts';
import type { SupportPoints } from './support.ts';

export interface Fitter {
  /** Fit(D) into `out` (a distribution on X). D is left as it is. */
  fit(D: Float64Array, out: Float64Array): void;
}

/**
 * exp(-r^2 / (2 h^2)) below this fraction of its peak is dropped: the kernel fit then
 * differs from the full sum by less than n * 1e-17 relative, far below the 1e-13
 * the dynamics need.
 */
export const KERNEL_CUTOFF = 1e-17;
/** The radius beyond which the kernel is below KERNEL_CUTOFF, in bandwidths. */
export const KERNEL_RADIUS = Math.sqrt(-2 * Math.log(KERNEL_CUTOFF));

/**
 * The 1-D kernel of an axis is tabulated per pair of cells, from the coordinates
 * themselves, when that band stays in cache (up to BAND_CACHED entries), or when the
 * bandwidth is so small that the rounding of the coordinates matters (up to
 * BAND_LIMIT). Otherwise it is tabulated by offset, one value per distance in cells:
 * the coordinates' rounding then moves a distance by about 2 ulp(max |x|), which
 * changes a kernel term by that over h relative (PRECISE_BY_OFFSET bounds it).
 */
const BAND_CACHED = 1 << 17;
const BAND_LIMIT = 1 << 22;
const PRECISE_BY_OFFSET = 2e-14;
/** Points supports up to this many atoms keep the whole normalised kernel matrix. */
const POINTS_MATRIX_LIMIT = 2048;

export function createFitter(model: NormalizedModel, support: NormalizedSupport, sp: SupportPoints): Fitter | null {
  switch (model.kind) {
    case 'exact':
      return null;
    case 'kernel':
      return support.kind === 'grid' ? new GridKernelFitter(support, model.bandwidth) : new PointsKernelFitter(sp, model.bandwidth);
    case 'gaussian':
      return new GaussianFitter(sp, model.minSd);
    case 'mixture':
      return new MixtureFitter(sp, model.components, model.emSteps, model.minSd);
  }
}

/** Cells of the kernel's window on one side, per axis of a grid (for the cost estimate too). */
export function kernelHalfWindow(min: number, max: number, n: number, h: number): number {
  const spacing = (max - min) / n;
  return Math.min(n - 1, Math.ceil((KERNEL_RADIUS * h) / spacing) + 1);
}

/**
 * The kernel fit on a grid. exp(-||x - y||^2 / 2h^2) is a product over the axes, and
 * so is its normaliser over the grid (a sum over a product set of a product), so
 * k_y(x) = prod_k g(x_k - y_k) / N_k(y_k) with N_k the 1-D sum along axis k: the fit is
 * one 1-D pass per axis, each windowed to the cells where g is not negligible.
 */
class GridKernelFitter implements Fitter {
  private readonly axes: {
    n: number;
    stride: number;
    W: number;
    /** Row i, offset o in [-W, W]: g(a_i - a_{i+o}) at [i * (2W + 1) + o + W] (0 off the axis); or null. */
    band: Float64Array | null;
    /** g by offset o in [-W, W] at [o + W] (uniform spacing), when the band is not kept. */
    byOffset: Float64Array | null;
    inv: Float64Array;
  }[];
  private readonly tmp: Float64Array;
  private readonly tmp2: Float64Array;
  private readonly scaled: Float64Array;

  constructor(s: Extract<NormalizedSupport, { kind: 'grid' }>, h: number) {
    const d = s.n.length;
    const total = s.n.reduce((a, b) => a * b, 1);
    this.tmp = new Float64Array(total);
    this.tmp2 = new Float64Array(total);
    this.scaled = new Float64Array(total);
    const twoH2 = 2 * h * h;
    this.axes = s.n.map((nk, k) => {
      let stride = 1;
      for (let l = k + 1; l < d; l++) stride *= s.n[l];
      // Coordinates exactly as buildSupport writes them.
      const a = new Float64Array(nk);
      for (let j = 0; j < nk; j++) a[j] = s.min[k] + ((j + 0.5) * (s.max[k] - s.min[k])) / nk;
      const W = kernelHalfWindow(s.min[k], s.max[k], nk, h);
      const width = 2 * W + 1;
      const inv = new Float64Array(nk);
      const shift = (4.5e-16 * Math.max(Math.abs(s.min[k]), Math.abs(s.max[k]))) / h;
      if (nk * width <= BAND_CACHED || (nk * width <= BAND_LIMIT && shift > PRECISE_BY_OFFSET)) {
        const band = new Float64Array(nk * width);
        for (let i = 0; i < nk; i++) {
          let sum = 0;
          for (let o = -W; o <= W; o++) {
            const j = i + o;
            if (j < 0 || j >= nk) continue;
            const dx = a[i] - a[j];
            const g = Math.exp(-(dx * dx) / twoH2);
            band[i * width + o + W] = g;
            sum += g;
          }
          inv[i] = 1 / sum;
        }
        return { n: nk, stride, W, band, byOffset: null, inv };
      }
      // By offset: exact up to the rounding of the coordinates (see BAND_CACHED).
      const spacing = (s.max[k] - s.min[k]) / nk;
      // Both signs of the offset, so that a row reads it like a row of the band.
      const g = new Float64Array(width);
      for (let o = 0; o <= W; o++) g[W + o] = g[W - o] = Math.exp(-((o * spacing) ** 2) / twoH2);
      for (let i = 0; i < nk; i++) {
        let sum = 0;
        for (let j = Math.max(0, i - W); j <= Math.min(nk - 1, i + W); j++) sum += g[W + j - i];
        inv[i] = 1 / sum;
      }
      return { n: nk, stride, W, band: null, byOffset: g, inv };
    });
  }

  fit(D: Float64Array, out: Float64Array): void {
    let src: Float64Array = D;
    const d = this.axes.length;
    for (let k = 0; k < d; k++) {
      // Alternate scratch buffers so that the last axis writes into `out`.
      const dst = k === d - 1 ? out : k % 2 === 0 ? this.tmp2 : this.tmp;
      this.axisPass(k, src, dst);
      src = dst;
    }
  }

  /** dst[.., x, ..] = sum_y g(a_x - a_y) src[.., y, ..] / N(y) along axis k. */
  private axisPass(k: number, src: Float64Array, dst: Float64Array): void {
    const { n, stride, W, band, byOffset, inv } = this.axes[k];
    const total = src.length;
    const block = n * stride;
    const into = this.scaled;
    for (let b = 0; b < total; b += block) {
      for (let y = 0; y < n; y++) {
        const f = inv[y];
        const base = b + y * stride;
        for (let r = 0; r < stride; r++) into[base + r] = src[base + r] * f;
      }
    }
    const width = 2 * W + 1;
    for (let b = 0; b < total; b += block) {
      for (let x = 0; x < n; x++) {
        const ob = b + x * stride;
        const y0 = x - W < 0 ? 0 : x - W;
        const y1 = x + W > n - 1 ? n - 1 : x + W;
        // Row x, indexed by y: row[rowAt + y] = g(a_x - a_y) (the offset table is one row for all x).
        const row = band ?? byOffset!;
        const rowAt = band ? x * width + W - x : W - x;
        if (stride === 1) {
          // Four partial sums: one would wait on the latency of every addition.
          let a0 = 0;
          let a1 = 0;
          let a2 = 0;
          let a3 = 0;
          let y = y0;
          for (; y + 3 <= y1; y += 4) {
            a0 += row[rowAt + y] * into[b + y];
            a1 += row[rowAt + y + 1] * into[b + y + 1];
            a2 += row[rowAt + y + 2] * into[b + y + 2];
            a3 += row[rowAt + y + 3] * into[b + y + 3];
          }
          for (; y <= y1; y++) a0 += row[rowAt + y] * into[b + y];
          dst[ob] = a0 + a1 + (a2 + a3);
          continue;
        }
        for (let r = 0; r < stride; r++) dst[ob + r] = 0;
        for (let y = y0; y <= y1; y++) {
          const g = row[rowAt + y];
          const ib = b + y * stride;
          for (let r = 0; r < stride; r++) dst[ob + r] += g * into[ib + r];
        }
      }
    }
  }
}

/**
 * The kernel fit on explicit points: the contract's formula term by term (the
 * normalised matrix is kept when it is small; beyond that the terms are computed
 * per generation, skipping pairs beyond the cutoff radius).
 */
class PointsKernelFitter implements Fitter {
  private readonly n: number;
  private readonly d: number;
  private readonly coords: Float64Array;
  private readonly twoH2: number;
  private readonly r2Max: number;
  private readonly inv: Float64Array;
  private readonly matrix: Float64Array | null;

  constructor(sp: SupportPoints, h: number) {
    const { n, d, coords } = sp;
    this.n = n;
    this.d = d;
    this.coords = coords;
    this.twoH2 = 2 * h * h;
    this.r2Max = (KERNEL_RADIUS * h) ** 2;
    this.inv = new Float64Array(n);
    for (let y = 0; y < n; y++) {
      let sum = 0;
      for (let z = 0; z < n; z++) sum += Math.exp(-this.dist2(y, z) / this.twoH2);
      this.inv[y] = 1 / sum;
    }
    if (n <= POINTS_MATRIX_LIMIT) {
      const M = new Float64Array(n * n);
      for (let x = 0; x < n; x++) for (let y = 0; y < n; y++) M[x * n + y] = Math.exp(-this.dist2(x, y) / this.twoH2) * this.inv[y];
      this.matrix = M;
    } else this.matrix = null;
  }

  private dist2(a: number, b: number): number {
    const { d, coords } = this;
    let r2 = 0;
    for (let k = 0; k < d; k++) {
      const dx = coords[a * d + k] - coords[b * d + k];
      r2 += dx * dx;
    }
    return r2;
  }

  fit(D: Float64Array, out: Float64Array): void {
    const { n, matrix, inv } = this;
    for (let x = 0; x < n; x++) {
      let acc = 0;
      if (matrix) {
        const row = x * n;
        for (let y = 0; y < n; y++) acc += matrix[row + y] * D[y];
      } else {
        for (let y = 0; y < n; y++) {
          if (D[y] === 0) continue;
          const r2 = this.dist2(x, y);
          if (r2 > this.r2Max) continue;
          acc += Math.exp(-r2 / this.twoH2) * inv[y] * D[y];
        }
      }
      out[x] = acc;
    }
  }
}

/**
 * Cholesky factor L (row-major d x d, lower) of a symmetric positive definite
 * matrix; returns log det. Small d (<= 3), so plain loops.
 */
function cholesky(S: Float64Array, at: number, d: number, L: Float64Array): number {
  L.fill(0, at, at + d * d);
  let logDet = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let v = S[at + i * d + j];
      for (let k = 0; k < j; k++) v -= L[at + i * d + k] * L[at + j * d + k];
      if (i === j) {
        // Sigma includes s^2 I, so v > 0 in exact arithmetic; rounding on huge coordinates
        // must not turn it into a NaN.
        const r = Math.sqrt(v > 1e-300 ? v : 1e-300);
        L[at + i * d + i] = r;
        logDet += 2 * Math.log(r);
      } else L[at + i * d + j] = v / L[at + j * d + j];
    }
  }
  return logDet;
}

/** (x - mu)^T Sigma^{-1} (x - mu) with Sigma = L L^T, by forward substitution. */
function mahalanobis(coords: Float64Array, j: number, d: number, mu: Float64Array, muAt: number, L: Float64Array, at: number, z: Float64Array): number {
  let q = 0;
  for (let i = 0; i < d; i++) {
    let v = coords[j * d + i] - mu[muAt + i];
    for (let k = 0; k < i; k++) v -= L[at + i * d + k] * z[k];
    v /= L[at + i * d + i];
    z[i] = v;
    q += v * v;
  }
  return q;
}

/** mu = sum D x, Sigma = sum D (x - mu)(x - mu)^T + s^2 I, written at muAt / sigmaAt. */
function momentMatch(sp: SupportPoints, D: Float64Array, s: number, mu: Float64Array, muAt: number, sigma: Float64Array, sigmaAt: number): void {
  const { n, d, coords } = sp;
  for (let i = 0; i < d; i++) mu[muAt + i] = 0;
  for (let j = 0; j < n; j++) {
    const w = D[j];
    if (w === 0) continue;
    for (let i = 0; i < d; i++) mu[muAt + i] += w * coords[j * d + i];
  }
  for (let i = 0; i < d * d; i++) sigma[sigmaAt + i] = 0;
  for (let j = 0; j < n; j++) {
    const w = D[j];
    if (w === 0) continue;
    for (let a = 0; a < d; a++) {
      const da = coords[j * d + a] - mu[muAt + a];
      for (let b = 0; b <= a; b++) sigma[sigmaAt + a * d + b] += w * da * (coords[j * d + b] - mu[muAt + b]);
    }
  }
  for (let a = 0; a < d; a++) {
    for (let b = 0; b < a; b++) sigma[sigmaAt + b * d + a] = sigma[sigmaAt + a * d + b];
    sigma[sigmaAt + a * d + a] += s * s;
  }
}

/** Writes exp(logf - max logf) / sum into out. */
function normaliseLog(out: Float64Array): void {
  const n = out.length;
  let mx = -Infinity;
  for (let j = 0; j < n; j++) if (out[j] > mx) mx = out[j];
  let sum = 0;
  for (let j = 0; j < n; j++) {
    const v = Math.exp(out[j] - mx);
    out[j] = v;
    sum += v;
  }
  for (let j = 0; j < n; j++) out[j] /= sum;
}

/** The maximum-likelihood Gaussian (moment matching), evaluated on X. */
class GaussianFitter implements Fitter {
  private readonly mu: Float64Array;
  private readonly sigma: Float64Array;
  private readonly L: Float64Array;
  private readonly z: Float64Array;

  constructor(private readonly sp: SupportPoints, private readonly minSd: number) {
    const d = sp.d;
    this.mu = new Float64Array(d);
    this.sigma = new Float64Array(d * d);
    this.L = new Float64Array(d * d);
    this.z = new Float64Array(d);
  }

  fit(D: Float64Array, out: Float64Array): void {
    const { sp, mu, sigma, L, z } = this;
    const { n, d, coords } = sp;
    momentMatch(sp, D, this.minSd, mu, 0, sigma, 0);
    cholesky(sigma, 0, d, L);
    for (let j = 0; j < n; j++) out[j] = -0.5 * mahalanobis(coords, j, d, mu, 0, L, 0, z);
    normaliseLog(out);
  }
}

/**
 * A k-component Gaussian mixture fitted by weighted EM, e steps per generation from
 * the previous generation's parameters; the first fit starts from the contract's
 * deterministic hard assignment (atoms by first coordinate, ties by index).
 */
export class MixtureFitter implements Fitter {
  /** Parameters: pi_j, mu_j at [j d, (j+1) d), Sigma_j at [j d^2, (j+1) d^2). */
  readonly pi: Float64Array;
  readonly mu: Float64Array;
  readonly sigma: Float64Array;
  private initialised = false;
  private readonly L: Float64Array;
  private readonly logNorm: Float64Array;
  private readonly z: Float64Array;
  /** D(x) g_j(x) at [j n + x]. */
  private readonly resp: Float64Array;
  private readonly order: Int32Array;
  private readonly l: Float64Array;

  constructor(
    private readonly sp: SupportPoints,
    private readonly k: number,
    private readonly emSteps: number,
    private readonly minSd: number,
  ) {
    const { n, d, coords } = sp;
    this.pi = new Float64Array(k);
    this.mu = new Float64Array(k * d);
    this.sigma = new Float64Array(k * d * d);
    this.L = new Float64Array(k * d * d);
    this.logNorm = new Float64Array(k);
    this.z = new Float64Array(d);
    this.resp = new Float64Array(k * n);
    this.l = new Float64Array(k);
    const idx = Array.from({ length: n }, (_, j) => j);
    idx.sort((a, b) => coords[a * d] - coords[b * d] || a - b);
    this.order = Int32Array.from(idx);
  }

  fit(D: Float64Array, out: Float64Array): void {
    if (!this.initialised) {
      this.hardStart(D);
      this.initialised = true;
    }
    for (let e = 0; e < this.emSteps; e++) this.emStep(D);
    this.density(out);
  }

  /** One M-step on hard responsibilities by the mass before each atom in first-coordinate order. */
  private hardStart(D: Float64Array): void {
    const { sp, k, resp, order } = this;
    const n = sp.n;
    resp.fill(0);
    let before = 0;
    for (let r = 0; r < n; r++) {
      const x = order[r];
      const j = Math.min(k - 1, Math.floor(k * before));
      resp[j * n + x] = D[x];
      before += D[x];
    }
    this.mStep(true, D);
  }

  /** Per component: log pi_j - log|Sigma_j| / 2 - d/2 log 2 pi, and the Cholesky factors. */
  private prepare(): void {
    const { k, sp } = this;
    const d = sp.d;
    const d2 = d * d;
    for (let j = 0; j < k; j++) {
      const logDet = cholesky(this.sigma, j * d2, d, this.L);
      this.logNorm[j] = this.pi[j] > 0 ? Math.log(this.pi[j]) - 0.5 * logDet - 0.5 * d * Math.log(2 * Math.PI) : -Infinity;
    }
  }

  /** log pi_j N_j(x). */
  private logComponent(j: number, x: number): number {
    const lj = this.logNorm[j];
    if (lj === -Infinity) return -Infinity;
    const d = this.sp.d;
    return lj - 0.5 * mahalanobis(this.sp.coords, x, d, this.mu, j * d, this.L, j * d * d, this.z);
  }

  private emStep(D: Float64Array): void {
    const { k, sp, resp } = this;
    const n = sp.n;
    this.prepare();
    const l = this.l;
    for (let x = 0; x < n; x++) {
      const w = D[x];
      if (w === 0) {
        for (let j = 0; j < k; j++) resp[j * n + x] = 0;
        continue;
      }
      let mx = -Infinity;
      for (let j = 0; j < k; j++) {
        l[j] = this.logComponent(j, x);
        if (l[j] > mx) mx = l[j];
      }
      let sum = 0;
      for (let j = 0; j < k; j++) {
        l[j] = Math.exp(l[j] - mx);
        sum += l[j];
      }
      for (let j = 0; j < k; j++) resp[j * n + x] = (w * l[j]) / sum;
    }
    this.mStep(false, D);
  }

  /**
   * pi_j = sum of resp_j, mu_j and Sigma_j its weighted moments (+ s^2 I). A component
   * without mass keeps its parameters, except at the hard start, where it takes the
   * single Gaussian's moments of D.
   */
  private mStep(start: boolean, D: Float64Array): void {
    const { k, sp, resp, mu, sigma, minSd } = this;
    const { n, d, coords } = sp;
    const d2 = d * d;
    for (let j = 0; j < k; j++) {
      const r = resp.subarray(j * n, (j + 1) * n); // k views per generation, not per atom
      let pj = 0;
      for (let x = 0; x < n; x++) pj += r[x];
      this.pi[j] = pj;
      if (pj === 0) {
        if (start) momentMatch(sp, D, minSd, mu, j * d, sigma, j * d2);
        continue;
      }
      for (let a = 0; a < d; a++) {
        let m = 0;
        for (let x = 0; x < n; x++) if (r[x] !== 0) m += r[x] * coords[x * d + a];
        mu[j * d + a] = m / pj;
      }
      for (let a = 0; a < d; a++) {
        for (let b = 0; b <= a; b++) {
          let c = 0;
          for (let x = 0; x < n; x++) {
            if (r[x] === 0) continue;
            c += r[x] * (coords[x * d + a] - mu[j * d + a]) * (coords[x * d + b] - mu[j * d + b]);
          }
          c /= pj;
          sigma[j * d2 + a * d + b] = c;
          sigma[j * d2 + b * d + a] = c;
        }
        sigma[j * d2 + a * d + a] += minSd * minSd;
      }
    }
  }

  /** Fit(D)(x) = sum_j pi_j N_j(x), by log-sum-exp over j, shifted by its maximum over X and normalised. */
  private density(out: Float64Array): void {
    const { k, sp, l } = this;
    const n = sp.n;
    this.prepare();
    for (let x = 0; x < n; x++) {
      let mx = -Infinity;
      for (let j = 0; j < k; j++) {
        l[j] = this.logComponent(j, x);
        if (l[j] > mx) mx = l[j];
      }
      let sum = 0;
      for (let j = 0; j < k; j++) sum += Math.exp(l[j] - mx);
      out[x] = mx + Math.log(sum);
    }
    normaliseLog(out);
  }
}
