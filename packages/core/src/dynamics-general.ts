// Which stepper runs a configuration, and the general pipeline of contract 2
// (curation, accumulation, real data, Fit) for everything the specialised
// exact-replace kernels do not cover.
import type { NormalizedConfig } from './types.ts';
import { emptyBasins, MacroTracker, type Basins, type MetricsRecorder } from './metrics.ts';
import { FiniteKStepper, flushTinyMasses, InfiniteKStepper, MIN_MASS, ShiftedScores, type Stepper, type Tracking } from './dynamics-exact.ts';
import { SampledStepper } from './dynamics-sampled.ts';
import { FiniteKMultiplier } from './finite-k.ts';
import { OutsideDomination } from './domination.ts';
import { createFitter, type Fitter } from './models.ts';
import { buildSupport, type SupportPoints } from './support.ts';
import { Xoshiro128 } from './rng.ts';

/**
 * The stepper for a validated configuration. `s` are the scaled rewards beta_i r_i,
 * `basins` the run's basins (for the macro state); a K = inf exact run also fills
 * the recorder's sums in its update pass.
 */
export function createStepper(
  c: NormalizedConfig,
  p0: Float64Array,
  s: Float64Array[],
  basins: Basins,
  recorder?: MetricsRecorder,
  sp?: SupportPoints,
): Stepper {
  const track = { basins, weights: c.weights };
  const plain = c.model.kind === 'exact' && c.retrain === 'replace';
  if (plain && c.mode === 'sampled' && c.K !== 'inf') {
    return new SampledStepper(p0, s, c.weights, c.realFraction, c.K, c.samples, c.seed, track);
  }
  if (plain && c.mode === 'exact') {
    if (c.K === 'inf') {
      const inf = new InfiniteKStepper(p0, s, c.weights, c.realFraction, track);
      if (recorder) inf.fuseMetrics(recorder.fusedTargets());
      return inf;
    }
    return new FiniteKStepper(p0, s, c.weights, c.realFraction, c.K, track);
  }
  const fitter = c.model.kind === 'exact' ? null : createFitter(c.model, c.support, sp ?? buildSupport(c.support));
  return new PipelineStepper(p0, s, {
    weights: c.weights,
    lambda: c.realFraction,
    K: c.K,
    sampled: c.mode === 'sampled' ? { N: c.samples, seed: c.seed } : null,
    accumulate: c.retrain === 'accumulate',
    fitter,
    track,
  });
}

/** Below this a normaliser sum p e^{s - shift} is re-done with the shift over the atoms with mass. */
const TINY_Z = 1e-250;
/** Candidate buffers up to this K; beyond it a streaming choice avoids O(K) memory. */
const BUFFERED_K = 65536;

export interface PipelineOptions {
  weights: number[];
  lambda: number;
  K: number | 'inf';
  /** Sampled mode (section 3): N curated samples a generation from the seeded generator. */
  sampled: { N: number; seed: number } | null;
  accumulate: boolean;
  /** Fit of the model family; null for `exact` (the identity). */
  fitter: Fitter | null;
  track?: Tracking;
}

/**
 * One generation of section 2 (or 3) in separate passes:
 *
 *   p~_t = curated p_t (exact multiplier, or the empirical distribution of N samples)
 *   A_t  = p~_t, or the mean of p~_0..p~_t (accumulate: a running sum divided by t + 1)
 *   p_{t+1} = Fit(lambda p_0 + (1 - lambda) A_t)
 */
export class PipelineStepper implements Stepper {
  readonly p: Float64Array;
  readonly fusedRecording = false;
  private readonly p0: Float64Array;
  private readonly s: Float64Array[];
  private readonly w: number[];
  private readonly lambda: number;
  private readonly K: number | 'inf';
  private readonly scores: ShiftedScores;
  /** Per-generation exponentials for a reward whose normaliser underflowed in `scores`. */
  private readonly Ealt: Float64Array[];
  private readonly z: Float64Array;
  private readonly zE: Float64Array[];
  /** The shift of zE[i]. */
  private readonly shiftUsed: Float64Array;
  private readonly tilde: Float64Array;
  private readonly sum: Float64Array | null;
  private readonly D: Float64Array;
  private readonly next: Float64Array;
  private readonly fitter: Fitter | null;
  private readonly mults: FiniteKMultiplier[] | null;
  private readonly H: Float64Array[];
  private readonly sampler: Sampler | null;
  private readonly tracker: MacroTracker;
  private readonly domination: OutsideDomination;
  private t = 0;

  constructor(p0: Float64Array, s: Float64Array[], o: PipelineOptions) {
    const n = p0.length;
    const m = s.length;
    this.p0 = flushTinyMasses(p0);
    this.p = Float64Array.from(this.p0);
    this.s = s;
    this.w = o.weights;
    this.lambda = o.lambda;
    this.K = o.K;
    this.scores = new ShiftedScores(s);
    this.Ealt = s.map(() => new Float64Array(n));
    this.z = new Float64Array(m);
    this.zE = [...this.scores.E];
    this.shiftUsed = Float64Array.from(this.scores.shift);
    this.tilde = new Float64Array(n);
    this.sum = o.accumulate ? new Float64Array(n) : null;
    this.D = new Float64Array(n);
    this.next = new Float64Array(n);
    this.fitter = o.fitter;
    const exactFinite = o.sampled === null && o.K !== 'inf';
    this.mults = exactFinite ? s.map((si) => new FiniteKMultiplier(si, o.K as number)) : null;
    this.H = exactFinite ? s.map(() => new Float64Array(n)) : [];
    this.sampler = o.sampled ? new Sampler(n, s, this.scores.E, o.weights, o.K, o.sampled.N, o.sampled.seed) : null;
    const basins = o.track?.basins ?? emptyBasins(m, n);
    this.tracker = new MacroTracker(basins, this.p);
    this.domination = new OutsideDomination(s, o.weights, basins);
  }

  get shareStep(): number {
    return this.tracker.shareStep;
  }

  get outside(): number {
    return this.tracker.outside;
  }

  get outsideDomination(): number | null {
    return this.domination.value;
  }

  /**
   * z_i = sum p e^{s_i - shift_i} and the exponentials it was made with (zE[i]): the
   * run-wide shift when that sum is safely normal, else the maximum of s_i over
   * the atoms with mass (exponentials recomputed for this generation).
   */
  private normalisers(): void {
    const { p, s } = this;
    const n = p.length;
    for (let i = 0; i < s.length; i++) {
      const E = this.scores.E[i];
      let z = 0;
      for (let j = 0; j < n; j++) z += p[j] * E[j];
      if (z > TINY_Z) {
        this.z[i] = z;
        this.zE[i] = E;
        this.shiftUsed[i] = this.scores.shift[i];
        continue;
      }
      const si = s[i];
      let top = -Infinity;
      for (let j = 0; j < n; j++) if (p[j] > 0 && si[j] > top) top = si[j];
      const Ea = this.Ealt[i];
      z = 0;
      for (let j = 0; j < n; j++) {
        Ea[j] = Math.exp(si[j] - top);
        z += p[j] * Ea[j];
      }
      this.z[i] = z;
      this.zE[i] = Ea;
      this.shiftUsed[i] = top;
    }
  }

  advance(): number {
    const { p, tilde, lambda } = this;
    const n = p.length;
    if (this.domination.active || this.K === 'inf') this.normalisers();
    if (this.domination.active) this.domination.observe(this.shiftUsed[0] + Math.log(this.z[0]), this.shiftUsed[1] + Math.log(this.z[1]));

    if (this.sampler) this.sampler.curate(p, this.zE, tilde);
    else this.curateExact();

    let A = tilde;
    if (this.sum) {
      const sum = this.sum;
      const count = this.t + 1;
      for (let j = 0; j < n; j++) sum[j] += tilde[j];
      // A_t reuses tilde once its values are in the running sum.
      for (let j = 0; j < n; j++) tilde[j] = sum[j] / count;
      A = tilde;
    }
    const D = this.fitter ? this.D : this.next;
    const keep = 1 - lambda;
    if (lambda === 0) D.set(A);
    else for (let j = 0; j < n; j++) D[j] = lambda * this.p0[j] + keep * A[j];
    const next = this.next;
    if (this.fitter) this.fitter.fit(D, next);
    for (let j = 0; j < n; j++) if (next[j] < MIN_MASS) next[j] = 0; // see MIN_MASS
    this.t++;
    return this.tracker.commit(p, next);
  }

  /** p~ = p sum_i w_i H_i, divided by its sum (section 2). */
  private curateExact(): void {
    const { p, tilde, w } = this;
    const n = p.length;
    const m = this.s.length;
    tilde.fill(0);
    if (this.mults) {
      for (let i = 0; i < m; i++) {
        this.mults[i].compute(p, this.H[i], true);
        const Hi = this.H[i];
        const wi = w[i];
        for (let j = 0; j < n; j++) tilde[j] += wi * Hi[j];
      }
    } else {
      for (let i = 0; i < m; i++) {
        const E = this.zE[i];
        const ci = w[i] / this.z[i];
        for (let j = 0; j < n; j++) tilde[j] += ci * E[j];
      }
    }
    let total = 0;
    for (let j = 0; j < n; j++) {
      const v = p[j] * tilde[j];
      tilde[j] = v;
      total += v;
    }
    for (let j = 0; j < n; j++) tilde[j] /= total;
  }
}

/**
 * Walker/Vose alias table rebuilt in place each generation (the same construction
 * and draw as rng.ts's AliasTable, without allocating).
 */
class AliasBuffer {
  readonly prob: Float64Array;
  readonly alias: Int32Array;
  private readonly scaled: Float64Array;
  private readonly small: Int32Array;
  private readonly large: Int32Array;

  constructor(n: number) {
    this.prob = new Float64Array(n);
    this.alias = new Int32Array(n);
    this.scaled = new Float64Array(n);
    this.small = new Int32Array(n);
    this.large = new Int32Array(n);
  }

  /** Weights a * b (b omitted: a), not all 0. */
  build(a: Float64Array, b?: Float64Array): void {
    const { prob, alias, scaled, small, large } = this;
    const n = prob.length;
    let total = 0;
    let best = 0;
    let bestW = -1;
    for (let j = 0; j < n; j++) {
      const v = b ? a[j] * b[j] : a[j];
      scaled[j] = v;
      total += v;
      if (v > bestW) {
        bestW = v;
        best = j;
      }
    }
    for (let j = 0; j < n; j++) scaled[j] = (scaled[j] * n) / total;
    let ns = 0;
    let nl = 0;
    for (let j = 0; j < n; j++) {
      prob[j] = 0;
      alias[j] = j;
      if (scaled[j] < 1) small[ns++] = j;
      else large[nl++] = j;
    }
    while (ns > 0 && nl > 0) {
      const s = small[--ns];
      const l = large[--nl];
      prob[s] = scaled[s];
      alias[s] = l;
      scaled[l] = scaled[l] + scaled[s] - 1;
      if (scaled[l] < 1) small[ns++] = l;
      else large[nl++] = l;
    }
    while (nl > 0) prob[large[--nl]] = 1;
    while (ns > 0) prob[small[--ns]] = 1; // rounding leftovers, each ~1
    for (let j = 0; j < n; j++) {
      const wj = b ? a[j] * b[j] : a[j];
      if (wj === 0) {
        // A rounding leftover must not resurrect an atom without weight.
        prob[j] = 0;
        const aj = alias[j];
        alias[j] = (b ? a[aj] * b[aj] : a[aj]) > 0 ? aj : best;
      }
    }
  }

  draw(rng: Xoshiro128): number {
    const j = rng.nextInt(this.prob.length);
    return rng.nextDouble() < this.prob[j] ? j : this.alias[j];
  }
}

/**
 * Section 3's curated samples from an explicit p_t: reward i with probability w_i,
 * then either (finite K) K candidates iid from p_t and one kept with probability
 * proportional to e^{s_i}, or (K = inf) the kept sample drawn directly from
 * p_t e^{s_i} / Z_i. Only exactly rounded arithmetic on the seeded stream, so the
 * same seed gives the same samples everywhere.
 */
class Sampler {
  private readonly rng: Xoshiro128;
  private readonly cumW: Float64Array;
  private readonly counts: Float64Array;
  private readonly fromP: AliasBuffer | null;
  private readonly curated: AliasBuffer[];
  private readonly cand: Int32Array;
  private readonly candW: Float64Array;

  constructor(
    n: number,
    private readonly s: Float64Array[],
    private readonly E: Float64Array[],
    weights: number[],
    private readonly K: number | 'inf',
    private readonly N: number,
    seed: number,
  ) {
    this.rng = new Xoshiro128(seed);
    this.counts = new Float64Array(n);
    this.cumW = new Float64Array(weights.length);
    let acc = 0;
    weights.forEach((w, i) => {
      acc += w;
      this.cumW[i] = acc;
    });
    this.cumW[weights.length - 1] = 1;
    this.fromP = K === 'inf' ? null : new AliasBuffer(n);
    this.curated = K === 'inf' ? s.map(() => new AliasBuffer(n)) : [];
    const kb = K === 'inf' ? 0 : Math.min(K, BUFFERED_K);
    this.cand = new Int32Array(kb);
    this.candW = new Float64Array(kb);
  }

  private pickReward(): number {
    const m = this.cumW.length;
    if (m === 1) return 0;
    const u = this.rng.nextDouble();
    let i = 0;
    while (u >= this.cumW[i]) i++;
    return i;
  }

  /** The empirical distribution of N curated samples from p into `out`. `zE[i]` are the exponentials of reward i with a safe shift for p. */
  curate(p: Float64Array, zE: Float64Array[], out: Float64Array): void {
    const { counts, N, rng } = this;
    counts.fill(0);
    if (this.K === 'inf') {
      for (let i = 0; i < this.curated.length; i++) this.curated[i].build(p, zE[i]);
      for (let k = 0; k < N; k++) counts[this.curated[this.pickReward()].draw(rng)] += 1;
    } else {
      this.fromP!.build(p);
      const buffered = this.K <= BUFFERED_K;
      for (let k = 0; k < N; k++) {
        const i = this.pickReward();
        counts[buffered ? this.curateBuffered(i) : this.curateStreaming(i)] += 1;
      }
    }
    for (let j = 0; j < out.length; j++) out[j] = counts[j] / N;
  }

  private curateBuffered(i: number): number {
    const { cand, candW, rng } = this;
    const K = this.K as number;
    const E = this.E[i];
    const from = this.fromP!;
    let total = 0;
    for (let k = 0; k < K; k++) {
      const y = from.draw(rng);
      cand[k] = y;
      const w = E[y];
      candW[k] = w;
      total += w;
    }
    if (!(total > TINY_Z)) {
      // Every candidate far below the run's maximum: weights relative to their own maximum.
      const s = this.s[i];
      let top = -Infinity;
      for (let k = 0; k < K; k++) top = Math.max(top, s[cand[k]]);
      total = 0;
      for (let k = 0; k < K; k++) {
        const w = Math.exp(s[cand[k]] - top);
        candW[k] = w;
        total += w;
      }
    }
    const u = rng.nextDouble() * total;
    let acc = 0;
    for (let k = 0; k < K - 1; k++) {
      acc += candW[k];
      if (u < acc) return cand[k];
    }
    return cand[K - 1];
  }

  /** Very large K: a weighted reservoir of size one, in log space relative to the running maximum. */
  private curateStreaming(i: number): number {
    const s = this.s[i];
    const { rng } = this;
    const from = this.fromP!;
    let kept = from.draw(rng);
    let top = s[kept];
    let total = 1;
    for (let k = 1; k < (this.K as number); k++) {
      const y = from.draw(rng);
      const sy = s[y];
      if (sy > top) {
        total *= Math.exp(top - sy);
        top = sy;
      }
      const w = Math.exp(sy - top);
      total += w;
      if (rng.nextDouble() * total < w) kept = y;
    }
    return kept;
  }
}
