// Basins and the per-generation metrics of section 4.
import type { MetricsRow } from './types.ts';

/**
 * Relative slack on the basin threshold max r - eps. Reward values carry rounding
 * from their formula (a quadratic at a grid centre is not exact), so an atom that
 * lies exactly on the threshold in exact arithmetic would otherwise be in or out
 * depending on the last bit. The slack is far below any meaningful eps.
 */
export const BASIN_RELATIVE_SLACK = 1e-12;

/**
 * Basin membership, grouped into classes of atoms that belong to exactly the same
 * set of basins. One pass then sums the mass per class, and the m basin masses and
 * the outside mass are sums of class masses. There are at most min(n, 2^m) classes.
 */
export interface Basins {
  m: number;
  /** max over X of each (unscaled) reward. */
  rMax: number[];
  /** member[i][j] = 1 when atom j is in S_i. */
  member: Uint8Array[];
  classOf: Int32Array;
  /** For each class, the rewards whose basin it is in (empty = outside). */
  classRewards: number[][];
  /**
   * Runs of consecutive atoms of the same class: run k is [runStart[k], runStart[k+1])
   * of class runClass[k]. Fused kernels sum a run in a register instead of
   * updating classMass per atom (a store-to-load dependency chain).
   */
  runStart: Int32Array;
  runClass: Int32Array;
}

export function buildBasins(rewards: Float64Array[], eps: number): Basins {
  const m = rewards.length;
  const n = rewards[0].length;
  const rMax: number[] = [];
  const member: Uint8Array[] = [];
  for (const r of rewards) {
    let mx = -Infinity;
    for (let j = 0; j < n; j++) if (r[j] > mx) mx = r[j];
    rMax.push(mx);
    const threshold = mx - eps - BASIN_RELATIVE_SLACK * Math.max(1, Math.abs(mx), eps);
    const mem = new Uint8Array(n);
    for (let j = 0; j < n; j++) mem[j] = r[j] >= threshold ? 1 : 0;
    member.push(mem);
  }
  const classOf = new Int32Array(n);
  const classRewards: number[][] = [];
  const index = new Map<string, number>();
  for (let j = 0; j < n; j++) {
    const set: number[] = [];
    for (let i = 0; i < m; i++) if (member[i][j]) set.push(i);
    const key = set.join(',');
    let cls = index.get(key);
    if (cls === undefined) {
      cls = classRewards.length;
      index.set(key, cls);
      classRewards.push(set);
    }
    classOf[j] = cls;
  }
  const starts: number[] = [];
  const classes: number[] = [];
  for (let j = 0; j < n; j++) {
    if (j === 0 || classOf[j] !== classOf[j - 1]) {
      starts.push(j);
      classes.push(classOf[j]);
    }
  }
  starts.push(n);
  return { m, rMax, member, classOf, classRewards, runStart: Int32Array.from(starts), runClass: Int32Array.from(classes) };
}

/** Basin masses and outside mass of a distribution, from per-class sums. */
export function basinMasses(b: Basins, classMass: Float64Array): { mass: number[]; outside: number } {
  const mass = new Array<number>(b.m).fill(0);
  let outside = 0;
  for (let c = 0; c < b.classRewards.length; c++) {
    const rs = b.classRewards[c];
    if (rs.length === 0) outside += classMass[c];
    for (const i of rs) mass[i] += classMass[c];
  }
  return { mass, outside };
}

/** Where a fused update kernel writes the metric sums (see InfiniteKStepper). */
export interface FusedMetricTargets {
  runStart: Int32Array;
  runClass: Int32Array;
  classMass: Float64Array;
  rewards: Float64Array[];
  /** Shift of each reward for the moments; m1 = sum p (r - shift), m2 = sum p (r - shift)^2. */
  shift: Float64Array;
  m1: Float64Array;
  m2: Float64Array;
  sums: { h: number; s0: number };
}

/**
 * Computes the recorded metrics of a distribution. Holds scratch space so that
 * recording allocates only the row itself.
 *
 * Variance: one pass accumulates sums shifted by the previous recorded mean
 * (which is close to the current mean, so little cancellation); when the shift
 * turns out to be poor (cancellation would cost more than ~3 digits) a second,
 * exactly centred pass is made. Either way the relative error stays near 1e-13.
 */
export class MetricsRecorder {
  private readonly classMass: Float64Array;
  private readonly shift: Float64Array;
  private readonly m1: Float64Array;
  private readonly m2: Float64Array;

  constructor(
    private readonly rewards: Float64Array[],
    private readonly basins: Basins,
    p0: Float64Array,
  ) {
    const m = rewards.length;
    this.classMass = new Float64Array(basins.classRewards.length);
    this.shift = new Float64Array(m);
    this.m1 = new Float64Array(m);
    this.m2 = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      let mu = 0;
      const r = rewards[i];
      for (let j = 0; j < p0.length; j++) mu += p0[j] * r[j];
      this.shift[i] = mu;
    }
  }

  /** Entropy and total mass of the last accumulation (set by accumulate() or a fused kernel). */
  readonly sums = { h: 0, s0: 0 };

  /** The arrays a fused update kernel needs to accumulate the metric sums itself. */
  fusedTargets(): FusedMetricTargets {
    return { runStart: this.basins.runStart, runClass: this.basins.runClass, classMass: this.classMass, rewards: this.rewards, shift: this.shift, m1: this.m1, m2: this.m2, sums: this.sums };
  }

  row(p: Float64Array, t: number, step: number | null): MetricsRow {
    this.accumulate(p);
    return this.finish(p, t, step);
  }

  /** One pass over p: entropy, total and per-class mass, shifted moments of every reward. */
  accumulate(p: Float64Array): void {
    const n = p.length;
    const m = this.rewards.length;
    const classMass = this.classMass.fill(0);
    const classOf = this.basins.classOf;
    let h = 0;
    let s0 = 0;
    for (let j = 0; j < n; j++) {
      const v = p[j];
      if (v > 0) h -= v * Math.log(v);
      s0 += v;
      classMass[classOf[j]] += v;
    }
    if (m === 2) this.momentsPair(p);
    else for (let i = 0; i < m; i++) this.moments(p, i);
    this.sums.h = h;
    this.sums.s0 = s0;
  }

  /** The row from the accumulated sums (p is needed only for the rare exactly centred variance pass). */
  finish(p: Float64Array, t: number, step: number | null): MetricsRow {
    const m = this.rewards.length;
    const { h, s0 } = this.sums;
    const mean: number[] = [];
    const variance: number[] = [];
    for (let i = 0; i < m; i++) {
      const c = this.shift[i];
      const m1 = this.m1[i];
      const a = this.m2[i];
      const mu = c * s0 + m1;
      const delta = mu - c;
      let v = a - 2 * delta * m1 + delta * delta * s0;
      if (a > 0 && !(v >= 1e-3 * a)) v = this.centred(p, i, mu);
      mean.push(mu);
      variance.push(Math.max(0, v));
      this.shift[i] = mu;
    }
    const { mass, outside } = basinMasses(this.basins, this.classMass);
    return { t, entropy: h, effectiveSupport: Math.exp(h), mass, outside, meanReward: mean, varReward: variance, step, shareStep: null };
  }

  private moments(p: Float64Array, i: number): void {
    const r = this.rewards[i];
    const c = this.shift[i];
    let m1 = 0;
    let m2 = 0;
    for (let j = 0; j < p.length; j++) {
      const v = p[j];
      const d = r[j] - c;
      const vd = v * d;
      m1 += vd;
      m2 += vd * d;
    }
    this.m1[i] = m1;
    this.m2[i] = m2;
  }

  private momentsPair(p: Float64Array): void {
    const r0 = this.rewards[0];
    const r1 = this.rewards[1];
    const c0 = this.shift[0];
    const c1 = this.shift[1];
    let a1 = 0;
    let a2 = 0;
    let b1 = 0;
    let b2 = 0;
    for (let j = 0; j < p.length; j++) {
      const v = p[j];
      const d0 = r0[j] - c0;
      const d1 = r1[j] - c1;
      const vd0 = v * d0;
      const vd1 = v * d1;
      a1 += vd0;
      a2 += vd0 * d0;
      b1 += vd1;
      b2 += vd1 * d1;
    }
    this.m1[0] = a1;
    this.m2[0] = a2;
    this.m1[1] = b1;
    this.m2[1] = b2;
  }

  private centred(p: Float64Array, i: number, mu: number): number {
    const r = this.rewards[i];
    let s = 0;
    for (let j = 0; j < p.length; j++) {
      const d = r[j] - mu;
      s += p[j] * d * d;
    }
    return s;
  }
}

/** Basins for m rewards that contain no atom (every atom outside): for steppers used without a run's basins. */
export function emptyBasins(m: number, n: number): Basins {
  return {
    m,
    rMax: new Array<number>(m).fill(Infinity),
    member: Array.from({ length: m }, () => new Uint8Array(n)),
    classOf: new Int32Array(n),
    classRewards: [[]],
    runStart: Int32Array.from([0, n]),
    runClass: Int32Array.from([0]),
  };
}

/**
 * The macro state M_t = (mass[0..m-1], outside) of every generation and its step
 * shareStep = max |M_t - M_{t-1}| (section 4), maintained by the steppers.
 *
 * An update pass adds, per run of atoms of one class, the new masses and the
 * changes p_t - p_{t-1} into classMass and classDelta; settle() turns them into
 * the macro state. The step is the sum of the changes, not the difference of two
 * mass sums: that keeps it accurate to rounding of its own size instead of the
 * ~1e-16 of a whole mass, which matters when the shares have settled.
 */
export class MacroTracker {
  readonly classMass: Float64Array;
  readonly classDelta: Float64Array;
  /** M_t: the m basin masses, then the outside mass. */
  readonly macro: Float64Array;
  shareStep = 0;
  private readonly delta: Float64Array;

  constructor(readonly basins: Basins, p0: Float64Array) {
    const classes = basins.classRewards.length;
    this.classMass = new Float64Array(classes);
    this.classDelta = new Float64Array(classes);
    this.macro = new Float64Array(basins.m + 1);
    this.delta = new Float64Array(basins.m + 1);
    const cm = this.classMass;
    const { runStart, runClass } = basins;
    for (let k = 0; k < runClass.length; k++) {
      let run = 0;
      for (let j = runStart[k]; j < runStart[k + 1]; j++) run += p0[j];
      cm[runClass[k]] += run;
    }
    this.collect(cm, this.macro);
  }

  get outside(): number {
    return this.macro[this.basins.m];
  }

  /** Zeroes the per-class sums before an update pass. */
  begin(): void {
    this.classMass.fill(0);
    this.classDelta.fill(0);
  }

  /** After an update pass filled classMass and classDelta: the new macro state and shareStep. */
  settle(): void {
    this.collect(this.classMass, this.macro);
    this.collect(this.classDelta, this.delta);
    let d = 0;
    for (let i = 0; i < this.delta.length; i++) d = Math.max(d, Math.abs(this.delta[i]));
    this.shareStep = d;
  }

  /**
   * A whole update for steppers that compute the next distribution apart: copies
   * `next` into `p` over [lo, hi) (outside it both are 0), filling the class sums,
   * and returns the total-variation step. Calls begin() and settle() itself.
   */
  commit(p: Float64Array, next: Float64Array, lo = 0, hi = p.length): number {
    this.begin();
    const { runStart, runClass } = this.basins;
    const cm = this.classMass;
    const cd = this.classDelta;
    let st = 0;
    for (let k = 0; k < runClass.length; k++) {
      const from = Math.max(runStart[k], lo);
      const to = Math.min(runStart[k + 1], hi);
      if (from >= to) continue;
      let run = 0;
      let change = 0;
      for (let j = from; j < to; j++) {
        const nv = next[j];
        const d = nv - p[j];
        st += Math.abs(d);
        run += nv;
        change += d;
        p[j] = nv;
      }
      cm[runClass[k]] += run;
      cd[runClass[k]] += change;
    }
    this.settle();
    return 0.5 * st;
  }

  private collect(perClass: Float64Array, into: Float64Array): void {
    const b = this.basins;
    into.fill(0);
    for (let c = 0; c < perClass.length; c++) {
      const rs = b.classRewards[c];
      if (rs.length === 0) into[b.m] += perClass[c];
      for (let k = 0; k < rs.length; k++) into[rs[k]] += perClass[c];
    }
  }
}
