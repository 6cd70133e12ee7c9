// Finite-sample dynamics (contract section 3).
import { ShiftedScores, type Stepper, type Tracking } from './dynamics-exact.ts';
import { AliasTable, Xoshiro128 } from './rng.ts';
import { emptyBasins, MacroTracker } from './metrics.ts';
import { OutsideDomination } from './domination.ts';

/** Candidate buffers up to this K; beyond it a streaming choice avoids O(K) memory. */
const BUFFERED_K = 65536;
/** Below this the candidates' shifted exponentials lose precision: re-shift locally. */
const TINY_TOTAL = 1e-250;

/**
 * Each generation draws N curated samples: reward i with probability w_i, K
 * candidates iid from p_t, one kept with probability proportional to e^{s_i}.
 *
 * p_t = lambda p_0 + (1 - lambda) (empirical distribution of the previous N kept
 * atoms), so a candidate is drawn exactly by: with probability lambda from p_0
 * (alias table, fixed), otherwise a uniformly chosen previous sample. No table
 * is rebuilt per generation, and an atom that drew no sample is gone for good
 * unless p_0 brings it back.
 *
 * The choice among candidates compares u * (sum of weights) with prefix sums of
 * precomputed e^{s_i - max s_i}: only exactly rounded arithmetic on the random
 * stream, so the output is bit-identical for a given seed.
 */
export class SampledStepper implements Stepper {
  readonly p: Float64Array;
  private readonly p0: Float64Array;
  private readonly s: Float64Array[];
  private readonly E: Float64Array[];
  private readonly cumW: Float64Array;
  private readonly lambda: number;
  private readonly N: number;
  private readonly K: number;
  private readonly rng: Xoshiro128;
  private readonly alias: AliasTable;
  private prev: Int32Array;
  private next: Int32Array;
  private readonly counts: Float64Array;
  private readonly cand: Int32Array;
  private readonly candW: Float64Array;
  private first = true;
  readonly fusedRecording = false;
  private readonly tracker: MacroTracker;
  private readonly domination: OutsideDomination;
  private readonly scores: ShiftedScores | null;
  private readonly nextP: Float64Array;

  constructor(p0: Float64Array, s: Float64Array[], weights: number[], lambda: number, K: number, N: number, seed: number, track?: Tracking) {
    const n = p0.length;
    const basins = track?.basins ?? emptyBasins(s.length, n);
    this.tracker = new MacroTracker(basins, p0);
    this.domination = new OutsideDomination(s, weights, basins);
    this.scores = this.domination.active ? new ShiftedScores(s) : null;
    this.nextP = new Float64Array(n);
    this.p0 = p0;
    this.p = Float64Array.from(p0);
    this.s = s;
    this.lambda = lambda;
    this.N = N;
    this.K = K;
    this.rng = new Xoshiro128(seed);
    this.alias = new AliasTable(p0);
    this.prev = new Int32Array(N);
    this.next = new Int32Array(N);
    this.counts = new Float64Array(n);
    const kb = Math.min(K, BUFFERED_K);
    this.cand = new Int32Array(kb);
    this.candW = new Float64Array(kb);
    // Cumulative weights with the last forced to 1, so u in [0, 1) always selects a reward.
    this.cumW = new Float64Array(weights.length);
    let acc = 0;
    weights.forEach((w, i) => {
      acc += w;
      this.cumW[i] = acc;
    });
    this.cumW[weights.length - 1] = 1;
    // Candidates are always atoms with p_0 > 0, so shifting by the max over them keeps E <= 1.
    this.E = s.map((si) => {
      let smax = -Infinity;
      for (let j = 0; j < n; j++) if (p0[j] > 0 && si[j] > smax) smax = si[j];
      const E = new Float64Array(n);
      for (let j = 0; j < n; j++) E[j] = p0[j] > 0 ? Math.exp(si[j] - smax) : 0;
      return E;
    });
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

  private drawCandidate(): number {
    if (this.first) return this.alias.draw(this.rng);
    if (this.lambda > 0 && this.rng.nextDouble() < this.lambda) return this.alias.draw(this.rng);
    return this.prev[this.rng.nextInt(this.N)];
  }

  private pickReward(): number {
    const m = this.cumW.length;
    if (m === 1) return 0;
    const u = this.rng.nextDouble();
    let i = 0;
    while (u >= this.cumW[i]) i++;
    return i;
  }

  /** One curated sample with candidates buffered (K <= BUFFERED_K). */
  private curateBuffered(i: number): number {
    const { cand, candW, K } = this;
    const E = this.E[i];
    let total = 0;
    for (let k = 0; k < K; k++) {
      const y = this.drawCandidate();
      cand[k] = y;
      const w = E[y];
      candW[k] = w;
      total += w;
    }
    if (!(total > TINY_TOTAL)) total = this.reshiftCandidates(i);
    const u = this.rng.nextDouble() * total;
    let acc = 0;
    for (let k = 0; k < K - 1; k++) {
      acc += candW[k];
      if (u < acc) return cand[k];
    }
    return cand[K - 1];
  }

  /** All candidates far below the global maximum: weights relative to their own maximum. */
  private reshiftCandidates(i: number): number {
    const s = this.s[i];
    let top = -Infinity;
    for (let k = 0; k < this.K; k++) top = Math.max(top, s[this.cand[k]]);
    let total = 0;
    for (let k = 0; k < this.K; k++) {
      const w = Math.exp(s[this.cand[k]] - top);
      this.candW[k] = w;
      total += w;
    }
    return total;
  }

  /**
   * Very large K: weighted reservoir of size one (keep candidate k with probability
   * w_k / running total), in log space relative to the running maximum so that
   * nothing underflows.
   */
  private curateStreaming(i: number): number {
    const s = this.s[i];
    let kept = this.drawCandidate();
    let top = s[kept];
    let total = 1;
    for (let k = 1; k < this.K; k++) {
      const y = this.drawCandidate();
      const sy = s[y];
      if (sy > top) {
        total *= Math.exp(top - sy);
        top = sy;
      }
      const w = Math.exp(sy - top);
      total += w;
      if (this.rng.nextDouble() * total < w) kept = y;
    }
    return kept;
  }

  advance(): number {
    const { N, counts, p, p0, lambda } = this;
    const n = p.length;
    if (this.scores) this.domination.observe(this.scores.logZ(p, 0), this.scores.logZ(p, 1));
    counts.fill(0);
    const next = this.next;
    const buffered = this.K <= BUFFERED_K;
    for (let k = 0; k < N; k++) {
      const i = this.pickReward();
      const y = buffered ? this.curateBuffered(i) : this.curateStreaming(i);
      next[k] = y;
      counts[y] += 1;
    }
    this.next = this.prev;
    this.prev = next;
    this.first = false;
    const scale = (1 - lambda) / N;
    const nextP = this.nextP;
    for (let j = 0; j < n; j++) nextP[j] = lambda * p0[j] + counts[j] * scale;
    return this.tracker.commit(p, nextP);
  }
}
