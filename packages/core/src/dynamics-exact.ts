// Exact population dynamics (contract section 2).
import { FiniteKMultiplier } from './finite-k.ts';
import { emptyBasins, MacroTracker, type Basins, type FusedMetricTargets } from './metrics.ts';
import { logNormaliser, OutsideDomination } from './domination.ts';

/** One generation at a time; `p` is the current distribution, updated in place. */
export interface Stepper {
  readonly p: Float64Array;
  /**
   * Advances one generation and returns the total-variation step. With `record`
   * a stepper that has `fusedRecording` also leaves the metric sums of the new p
   * in its FusedMetricTargets.
   */
  advance(record?: boolean): number;
  readonly fusedRecording: boolean;
  /** max |M_t - M_{t-1}| over the macro state (basin masses, outside) of the generation just made. */
  readonly shareStep: number;
  /** The outside mass of the current p. */
  readonly outside: number;
  /** The audit's B.4 maximum over the generations advanced from so far (null: none, m != 2 or no atom outside). */
  readonly outsideDomination: number | null;
}

/** What a stepper needs besides the dynamics to track the macro state and the B.4 maximum. */
export interface Tracking {
  basins: Basins;
  /** Weights of the rewards, for the B.4 multiplier (m = 2). */
  weights: number[];
}

function tracking(t: Tracking | undefined, s: Float64Array[], weights: number[], p0: Float64Array): { tracker: MacroTracker; domination: OutsideDomination } {
  const basins = t?.basins ?? emptyBasins(s.length, p0.length);
  return { tracker: new MacroTracker(basins, p0), domination: new OutsideDomination(s, weights, basins) };
}

/**
 * e^{s - max s} over all atoms, with the shift: the B.4 normalisers of steppers that
 * do not keep shifted exponentials of their own.
 */
export class ShiftedScores {
  readonly E: Float64Array[];
  readonly shift: Float64Array;

  constructor(readonly s: Float64Array[]) {
    this.shift = Float64Array.from(s.map((si) => si.reduce((a, b) => (b > a ? b : a), -Infinity)));
    this.E = s.map((si, i) => si.map((v) => Math.exp(v - this.shift[i])));
  }

  logZ(p: Float64Array, i: number): number {
    return logNormaliser(p, this.s[i], this.E[i], this.shift[i]);
  }
}

/**
 * Masses below this are set to 0. A long run drives the tails of p through the
 * subnormal range (below 2.2e-308) on their way to 0, and subnormal arithmetic is
 * many times slower on x86, enough to dominate a long run (measurements in the core
 * README, "Tiny masses"). The change to any output is below 1e-290 (thresholds in the contract are 0.01 and
 * up), so the dynamics are exact at any precision that can be printed, and atoms that
 * reach 0 leave the kernels' window sooner.
 */
export const MIN_MASS = 1e-300;

/** `p0` with masses below MIN_MASS set to 0 (the same array when it has none). */
export function flushTinyMasses(p0: Float64Array): Float64Array {
  if (!p0.some((v) => v > 0 && v < MIN_MASS)) return p0;
  return p0.map((v) => (v < MIN_MASS ? 0 : v));
}

/** Below this a normaliser risks overflow of w / Z: re-shift the exponentials. */
const TINY_Z = 1e-250;

/**
 * K = inf. H_i(x) = e^{s_i(x)} / sum_y p(y) e^{s_i(y)} is invariant under shifting
 * s_i, so the shifted exponentials E_i = e^{s_i - shift_i} are computed once per
 * run and one fused pass per generation does everything:
 *
 *   p'(x) = lambda p_0(x) + p(x) sum_i c_i E_i(x),  c_i = (1 - lambda) w_i / Z_i,
 *
 * while accumulating the TV step, the next normalisers Z_i = sum p' E_i and the
 * macro state (per run of atoms of one basin class, so the class sums stay in
 * registers). The normalisation of p~ is folded into c_i: since Z_i is computed
 * from the very vector it normalises, sum p~ = sum_i w_i = 1 up to one pass of
 * rounding, and that rounding does not accumulate across generations.
 */
export class InfiniteKStepper implements Stepper {
  readonly p: Float64Array;
  private readonly p0: Float64Array;
  private readonly s: Float64Array[];
  private readonly E: Float64Array[];
  private readonly shift: Float64Array;
  private readonly w: Float64Array;
  private readonly z: Float64Array;
  private readonly c: Float64Array;
  private readonly lambda: number;
  /** Scratch multiplier for m != 2. */
  private readonly mult: Float64Array;
  /**
   * Atoms outside [lo, hi) have p = 0 for good (extinct by underflow with no real
   * data to bring them back), so the kernels skip them: exact, and long runs
   * that concentrate the mass get faster.
   */
  private lo = 0;
  private hi: number;
  private targets: FusedMetricTargets | null = null;
  private readonly tracker: MacroTracker;
  private readonly domination: OutsideDomination;
  fusedRecording = false;

  constructor(p0: Float64Array, s: Float64Array[], weights: number[], lambda: number, track?: Tracking) {
    const n = p0.length;
    this.p0 = flushTinyMasses(p0);
    this.p = Float64Array.from(this.p0);
    this.s = s;
    this.w = Float64Array.from(weights);
    this.lambda = lambda;
    const m = s.length;
    this.z = new Float64Array(m);
    this.c = new Float64Array(m);
    this.shift = new Float64Array(m);
    this.mult = new Float64Array(m === 2 ? 0 : n);
    this.E = s.map(() => new Float64Array(n));
    this.hi = n;
    ({ tracker: this.tracker, domination: this.domination } = tracking(track, s, weights, this.p));
    this.initialShift();
    this.trim();
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

  /** Lets the m = 2 kernels accumulate the recorded metrics in the update pass itself. */
  fuseMetrics(targets: FusedMetricTargets): void {
    if (this.s.length !== 2) return;
    this.targets = targets;
    this.fusedRecording = true;
  }

  private dead(j: number): boolean {
    return this.p[j] === 0 && (this.lambda === 0 || this.p0[j] === 0);
  }

  private trim(): void {
    while (this.lo < this.hi && this.dead(this.lo)) this.lo++;
    while (this.hi > this.lo && this.dead(this.hi - 1)) this.hi--;
  }

  /** E_i = e^{s_i - max s_i over atoms with mass}, 0 on atoms without mass (they never regain any). */
  private initialShift(): void {
    const p = this.p;
    const n = p.length;
    for (let i = 0; i < this.s.length; i++) {
      const s = this.s[i];
      const E = this.E[i];
      let smax = -Infinity;
      for (let j = 0; j < n; j++) if (p[j] > 0 && s[j] > smax) smax = s[j];
      let z = 0;
      for (let j = 0; j < n; j++) {
        E[j] = p[j] > 0 ? Math.exp(s[j] - smax) : 0;
        z += p[j] * E[j];
      }
      this.z[i] = z;
      this.shift[i] = smax;
    }
  }

  /**
   * Rare path, when some Z_i has become so small that w_i / Z_i could overflow:
   * the mass sits where e^{s_i - max s_i} is tiny. Re-shift by log sum p e^{s_i}
   * so that Z_i = 1 again. E_i may then exceed 1 on atoms of tiny mass; the cap
   * only affects atoms with mass below ~1e-300. H is shift-invariant, so the
   * dynamics are unchanged.
   */
  private reshift(): void {
    const p = this.p;
    const n = p.length;
    for (let i = 0; i < this.s.length; i++) {
      const s = this.s[i];
      const E = this.E[i];
      let top = -Infinity;
      for (let j = 0; j < n; j++) if (p[j] > 0) top = Math.max(top, s[j] + Math.log(p[j]));
      let acc = 0;
      for (let j = 0; j < n; j++) if (p[j] > 0) acc += Math.exp(s[j] + Math.log(p[j]) - top);
      const shift = top + Math.log(acc);
      let z = 0;
      for (let j = 0; j < n; j++) {
        E[j] = p[j] > 0 ? Math.min(Math.exp(s[j] - shift), 1e300) : 0;
        z += p[j] * E[j];
      }
      this.z[i] = z;
      this.shift[i] = shift;
    }
  }

  advance(record = false): number {
    const m = this.s.length;
    for (let i = 0; i < m; i++) {
      if (!(this.z[i] > TINY_Z)) {
        this.reshift();
        break;
      }
    }
    if (this.domination.active) this.domination.observe(this.shift[0] + Math.log(this.z[0]), this.shift[1] + Math.log(this.z[1]));
    const scale = 1 - this.lambda;
    for (let i = 0; i < m; i++) this.c[i] = (scale * this.w[i]) / this.z[i];
    this.tracker.begin();
    let step: number;
    if (m === 2 && record && this.targets) step = this.advance2Recorded(this.targets);
    else if (m === 2) step = this.lambda === 0 ? this.advance2() : this.advance2Real();
    else if (m === 1 && this.lambda === 0) step = this.advance1();
    else step = this.advanceGeneric();
    this.tracker.settle();
    this.trim();
    return step;
  }

  /**
   * The m = 2 update fused with every recorded sum: entropy, class masses and the
   * shifted first and second moments of both rewards, all on the new value while
   * it is in a register.
   */
  private advance2Recorded(tg: FusedMetricTargets): number {
    const { p, p0, lambda, hi } = this;
    const E0 = this.E[0];
    const E1 = this.E[1];
    const c0 = this.c[0];
    const c1 = this.c[1];
    const r0 = tg.rewards[0];
    const r1 = tg.rewards[1];
    const k0 = tg.shift[0];
    const k1 = tg.shift[1];
    const { runStart, runClass } = this.tracker.basins;
    const classMass = this.tracker.classMass;
    const classDelta = this.tracker.classDelta;
    let st = 0;
    let z0 = 0;
    let z1 = 0;
    let h = 0;
    let s0 = 0;
    let a1 = 0;
    let a2 = 0;
    let b1 = 0;
    let b2 = 0;
    const lo = this.lo;
    for (let k = 0; k < runClass.length; k++) {
      const from = Math.max(runStart[k], lo);
      const to = Math.min(runStart[k + 1], hi);
      let run = 0;
      let change = 0;
      for (let j = from; j < to; j++) {
        const v = p[j];
        const e0 = E0[j];
        const e1 = E1[j];
        const raw = lambda * p0[j] + v * (c0 * e0 + c1 * e1);
        const nv = raw < MIN_MASS ? 0 : raw; // see MIN_MASS
        const d = nv - v;
        st += Math.abs(d);
        change += d;
        p[j] = nv;
        z0 += nv * e0;
        z1 += nv * e1;
        run += nv;
        const d0 = r0[j] - k0;
        const d1 = r1[j] - k1;
        const vd0 = nv * d0;
        const vd1 = nv * d1;
        a1 += vd0;
        a2 += vd0 * d0;
        b1 += vd1;
        b2 += vd1 * d1;
      }
      classMass[runClass[k]] += run;
      classDelta[runClass[k]] += change;
      s0 += run;
    }
    this.z[0] = z0;
    this.z[1] = z1;
    // Entropy in a loop of its own: Math.log is a call that clobbers every
    // floating-point register, which in the fused loop forced all twelve
    // accumulators through memory on every atom.
    for (let j = this.lo; j < hi; j++) {
      const v = p[j];
      if (v > 0) h -= v * Math.log(v);
    }
    tg.classMass.set(classMass);
    tg.sums.h = h;
    tg.sums.s0 = s0;
    tg.m1[0] = a1;
    tg.m2[0] = a2;
    tg.m1[1] = b1;
    tg.m2[1] = b2;
    return 0.5 * st;
  }

  private advance1(): number {
    const { p, lo, hi } = this;
    const E0 = this.E[0];
    const c0 = this.c[0];
    const { runStart, runClass } = this.tracker.basins;
    const classMass = this.tracker.classMass;
    const classDelta = this.tracker.classDelta;
    let st = 0;
    let z0 = 0;
    for (let k = 0; k < runClass.length; k++) {
      const from = Math.max(runStart[k], lo);
      const to = Math.min(runStart[k + 1], hi);
      let run = 0;
      let change = 0;
      for (let j = from; j < to; j++) {
        const v = p[j];
        const e0 = E0[j];
        const raw = v * (c0 * e0);
        const nv = raw < MIN_MASS ? 0 : raw; // see MIN_MASS
        const d = nv - v;
        st += Math.abs(d);
        change += d;
        run += nv;
        p[j] = nv;
        z0 += nv * e0;
      }
      classMass[runClass[k]] += run;
      classDelta[runClass[k]] += change;
    }
    this.z[0] = z0;
    return 0.5 * st;
  }

  private advance2(): number {
    const { p, lo, hi } = this;
    const E0 = this.E[0];
    const E1 = this.E[1];
    const c0 = this.c[0];
    const c1 = this.c[1];
    const { runStart, runClass } = this.tracker.basins;
    const classMass = this.tracker.classMass;
    const classDelta = this.tracker.classDelta;
    let st = 0;
    let z0 = 0;
    let z1 = 0;
    for (let k = 0; k < runClass.length; k++) {
      const from = Math.max(runStart[k], lo);
      const to = Math.min(runStart[k + 1], hi);
      let run = 0;
      let change = 0;
      for (let j = from; j < to; j++) {
        const v = p[j];
        const e0 = E0[j];
        const e1 = E1[j];
        const raw = v * (c0 * e0 + c1 * e1);
        const nv = raw < MIN_MASS ? 0 : raw; // see MIN_MASS
        const d = nv - v;
        st += Math.abs(d);
        change += d;
        run += nv;
        p[j] = nv;
        z0 += nv * e0;
        z1 += nv * e1;
      }
      classMass[runClass[k]] += run;
      classDelta[runClass[k]] += change;
    }
    this.z[0] = z0;
    this.z[1] = z1;
    return 0.5 * st;
  }

  private advance2Real(): number {
    const { p, p0, lambda, lo, hi } = this;
    const E0 = this.E[0];
    const E1 = this.E[1];
    const c0 = this.c[0];
    const c1 = this.c[1];
    const { runStart, runClass } = this.tracker.basins;
    const classMass = this.tracker.classMass;
    const classDelta = this.tracker.classDelta;
    let st = 0;
    let z0 = 0;
    let z1 = 0;
    for (let k = 0; k < runClass.length; k++) {
      const from = Math.max(runStart[k], lo);
      const to = Math.min(runStart[k + 1], hi);
      let run = 0;
      let change = 0;
      for (let j = from; j < to; j++) {
        const v = p[j];
        const e0 = E0[j];
        const e1 = E1[j];
        const raw = lambda * p0[j] + v * (c0 * e0 + c1 * e1);
        const nv = raw < MIN_MASS ? 0 : raw; // see MIN_MASS
        const d = nv - v;
        st += Math.abs(d);
        change += d;
        run += nv;
        p[j] = nv;
        z0 += nv * e0;
        z1 += nv * e1;
      }
      classMass[runClass[k]] += run;
      classDelta[runClass[k]] += change;
    }
    this.z[0] = z0;
    this.z[1] = z1;
    return 0.5 * st;
  }

  private advanceGeneric(): number {
    const { p, p0, lambda, lo, hi } = this; // outside [lo, hi), p stays 0 and adds nothing to any sum
    const m = this.s.length;
    const mult = this.mult;
    mult.fill(0, lo, hi);
    for (let i = 0; i < m; i++) {
      const E = this.E[i];
      const ci = this.c[i];
      for (let j = lo; j < hi; j++) mult[j] += ci * E[j];
    }
    const { runStart, runClass } = this.tracker.basins;
    const classMass = this.tracker.classMass;
    const classDelta = this.tracker.classDelta;
    let st = 0;
    for (let k = 0; k < runClass.length; k++) {
      const from = Math.max(runStart[k], lo);
      const to = Math.min(runStart[k + 1], hi);
      let run = 0;
      let change = 0;
      for (let j = from; j < to; j++) {
        const v = p[j];
        const raw = lambda * p0[j] + v * mult[j];
        const nv = raw < MIN_MASS ? 0 : raw; // see MIN_MASS
        const d = nv - v;
        st += Math.abs(d);
        change += d;
        run += nv;
        p[j] = nv;
      }
      classMass[runClass[k]] += run;
      classDelta[runClass[k]] += change;
    }
    for (let i = 0; i < m; i++) {
      const E = this.E[i];
      let z = 0;
      for (let j = lo; j < hi; j++) z += p[j] * E[j];
      this.z[i] = z;
    }
    return 0.5 * st;
  }
}

/**
 * Finite K: H_i from the exact multiplier of each reward, then
 * p' = lambda p_0 + (1 - lambda) p sum_i w_i H_i / (its sum).
 */
export class FiniteKStepper implements Stepper {
  readonly p: Float64Array;
  private readonly p0: Float64Array;
  private readonly mults: FiniteKMultiplier[];
  private readonly H: Float64Array[];
  private readonly tilde: Float64Array;
  private readonly w: number[];
  private readonly lambda: number;
  /** As in InfiniteKStepper: atoms outside [lo, hi) have p = 0 for good, so the loops here skip them. */
  private lo = 0;
  private hi: number;

  private readonly tracker: MacroTracker;
  private readonly domination: OutsideDomination;
  private readonly scores: ShiftedScores | null;

  constructor(p0: Float64Array, s: Float64Array[], weights: number[], lambda: number, K: number, track?: Tracking) {
    const n = p0.length;
    this.p0 = flushTinyMasses(p0);
    this.p = Float64Array.from(this.p0);
    this.mults = s.map((si) => new FiniteKMultiplier(si, K));
    this.H = s.map(() => new Float64Array(n));
    this.tilde = new Float64Array(n);
    this.w = weights;
    this.lambda = lambda;
    this.hi = n;
    ({ tracker: this.tracker, domination: this.domination } = tracking(track, s, weights, this.p));
    this.scores = this.domination.active ? new ShiftedScores(s) : null;
    this.trim();
  }

  readonly fusedRecording = false;

  get shareStep(): number {
    return this.tracker.shareStep;
  }

  get outside(): number {
    return this.tracker.outside;
  }

  get outsideDomination(): number | null {
    return this.domination.value;
  }

  private dead(j: number): boolean {
    return this.p[j] === 0 && (this.lambda === 0 || this.p0[j] === 0);
  }

  private trim(): void {
    while (this.lo < this.hi && this.dead(this.lo)) this.lo++;
    while (this.hi > this.lo && this.dead(this.hi - 1)) this.hi--;
  }

  advance(): number {
    const { p, p0, H, tilde, w, lambda, lo, hi } = this;
    const m = H.length;
    if (this.scores) this.domination.observe(this.scores.logZ(p, 0), this.scores.logZ(p, 1));
    // H only where p > 0: elsewhere p H = 0 whatever H is (H starts at 0, stays finite).
    // Outside [lo, hi) every term below is an exact 0 (p = 0, and p0 = 0 or lambda = 0),
    // so skipping it leaves every sum and every p bit for bit as they were.
    for (let i = 0; i < m; i++) this.mults[i].compute(p, H[i], true);
    tilde.fill(0, lo, hi);
    for (let i = 0; i < m; i++) {
      const Hi = H[i];
      const wi = w[i];
      for (let j = lo; j < hi; j++) tilde[j] += wi * Hi[j];
    }
    let sum = 0;
    for (let j = lo; j < hi; j++) {
      const v = p[j] * tilde[j];
      tilde[j] = v;
      sum += v;
    }
    const scale = (1 - lambda) / sum;
    for (let j = lo; j < hi; j++) {
      const raw = lambda * p0[j] + tilde[j] * scale;
      tilde[j] = raw < MIN_MASS ? 0 : raw; // see MIN_MASS
    }
    const st = this.tracker.commit(p, tilde, lo, hi);
    this.trim();
    return st;
  }
}
