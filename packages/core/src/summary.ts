// The summary of a run (contract section 5): convergence on the macro state,
// collapse verdicts against each basin's weight, the outside mass's decay rate,
// and for m = 2 the audit of the paper's assumptions and lemmas.
import type { Audit, MetricsRow, NashAudit, Summary } from './types.ts';
import type { Basins } from './metrics.ts';

/** m = 1: collapsed when the basin holds at least this much. */
export const COLLAPSE_MASS = 0.99;
/** A basin survives while it holds at least this fraction of its weight. */
export const SURVIVAL_FRACTION = 0.01;
/**
 * shareSteps below this count as 0 in the convergence rule: mass sums carry
 * rounding noise near 1e-15, and two implementations must not disagree on it.
 */
export const SHARE_STEP_ZERO = 1e-12;
/** The interval verdicts are judged only once the outside mass is below this. */
export const OUTSIDE_LIMIT = 1e-3;

/**
 * Projected remaining drift R_t from shareStep_{t-1} and shareStep_t (t >= 2):
 * a geometric tail shareStep_t / (1 - rho) with rho = shareStep_t / shareStep_{t-1}.
 */
export function projectedDrift(previous: number, current: number): number {
  const prev = previous < SHARE_STEP_ZERO ? 0 : previous;
  const cur = current < SHARE_STEP_ZERO ? 0 : current;
  if (cur === 0) return 0;
  if (prev === 0) return Infinity;
  const rho = cur / prev;
  return rho < 1 ? cur / (1 - rho) : Infinity;
}

/**
 * Fed the shareStep of every generation t = 1..T in order, it knows the last
 * generation at which R_t >= tol, which is all that converged and convergedAt need
 * (the last settling wins). No allocation per generation.
 */
export class ConvergenceTracker {
  /** R_0 = R_1 = infinity, so generation 1 is unsettled by definition. */
  private lastUnsettled = 1;
  private previous = 0;
  private t = 0;

  constructor(private readonly tol: number) {}

  /** shareStep of the next generation (t = 1, 2, ...). */
  push(shareStep: number): void {
    const t = ++this.t;
    if (t >= 2 && !(projectedDrift(this.previous, shareStep) < this.tol)) this.lastUnsettled = t;
    this.previous = shareStep;
  }

  /** Verdicts after the last generation pushed (T = the number of pushes). */
  result(): { converged: boolean; convergedAt: number | null } {
    const converged = this.lastUnsettled < this.t;
    return { converged, convergedAt: converged ? this.lastUnsettled + 1 : null };
  }
}

/**
 * Least-squares slope of ln(outside_t) against t over the generations
 * ceil(T/2) <= t <= T with outside_t > 0, accumulated online (Welford's
 * co-moments, stable however large t is).
 */
export class DecayRegression {
  private readonly from: number;
  private count = 0;
  private meanT = 0;
  private meanY = 0;
  private cTT = 0;
  private cTY = 0;

  constructor(T: number) {
    this.from = Math.ceil(T / 2);
  }

  /** Whether generation t is in the fitted range (so the caller need not fetch outside_t otherwise). */
  wants(t: number): boolean {
    return t >= this.from;
  }

  add(t: number, outside: number): void {
    if (t < this.from || !(outside > 0)) return;
    const y = Math.log(outside);
    const n = ++this.count;
    const dt = t - this.meanT;
    this.meanT += dt / n;
    this.meanY += (y - this.meanY) / n;
    this.cTT += dt * (t - this.meanT);
    this.cTY += dt * (y - this.meanY);
  }

  slope(): number | null {
    return this.count < 2 ? null : this.cTY / this.cTT;
  }
}

/** What the m = 2 audit needs beyond the final row. */
export interface AuditInput {
  /** Unscaled rewards over X. */
  rewards: Float64Array[];
  basins: Basins;
  p0: Float64Array;
  /** p_T. */
  p: Float64Array;
  eps: number;
  /** beta_i per reward (selection units s_i = beta_i r_i). */
  beta: number[];
  K: number | 'inf';
  /** max over t < T and outside atoms of the K = inf multiplier (from the stepper); null when none. */
  outsideDomination: number | null;
}

export interface SummaryInput {
  final: MetricsRow;
  weights: number[];
  converged: boolean;
  convergedAt: number | null;
  outsideDecayRate: number | null;
  audit: AuditInput | null;
}

export function summarize(input: SummaryInput): Summary {
  const { final, weights } = input;
  const m = weights.length;
  const mass = final.mass;
  let total = 0;
  for (const x of mass) total += x;
  const basinShare: (number | null)[] = total > 0 ? mass.map((x) => x / total) : mass.map(() => null);
  let nashGap: number | null = null;
  if (total > 0) {
    let g = 0;
    for (let i = 0; i < m; i++) g += Math.abs((basinShare[i] as number) - weights[i]);
    nashGap = 0.5 * g;
  }
  // With one reward its weight is 1, so the survival rule needs no special case.
  let surviving = 0;
  for (let i = 0; i < m; i++) if (mass[i] >= SURVIVAL_FRACTION * weights[i]) surviving++;
  const collapsed = m === 1 ? mass[0] >= COLLAPSE_MASS : surviving < m;
  return {
    converged: input.converged,
    convergedAt: input.convergedAt,
    final,
    basinShare,
    nashGap,
    collapsed,
    survivingBasins: surviving,
    outsideDecayRate: input.outsideDecayRate,
    audit: input.audit === null ? null : auditTwoRewards(input.audit, weights[0], final, basinShare[0]),
  };
}

/**
 * kappa = exp(-beta (gap - slack)); null when it overflows, which the contract
 * counts as >= 1.
 */
function leakageOf(beta: number, gap: number, slack: number): number | null {
  const k = Math.exp(-beta * (gap - slack));
  return Number.isFinite(k) ? k : null;
}

/** Lemma 3.5's interval for the limit share of basin 1 from the two leakages. */
function lemmaInterval(q: number, k1: number | null, k2: number | null): [number, number] {
  const lo = k1 === null || k1 >= 1 ? 0 : Math.max(0, (q - k1) / (1 - k1));
  const hi = k2 === null || k2 >= 1 ? 1 : Math.min(1, q / (1 - k2));
  return [lo, hi];
}

/**
 * The lower end with every eps kept: max(0, (v e^{-b eps} - e^{-b Delta}) / (1 - e^{-b Delta}))
 * for v = q (and 1 - q for the upper end by symmetry). -expm1 keeps the
 * denominator exact when b Delta is small.
 */
function correctedEnd(v: number, beta: number, gap: number, eps: number): number {
  if (gap === 0) return 0;
  const x = beta * gap;
  return Math.max(0, (v * Math.exp(-beta * eps) - Math.exp(-x)) / -Math.expm1(-x));
}

function within(iv: [number, number], a: number | null, judged: boolean): boolean | null {
  return judged && a !== null ? iv[0] <= a && a <= iv[1] : null;
}

export function auditTwoRewards(input: AuditInput, q: number, final: MetricsRow, share: number | null): Audit {
  const { rewards, basins, p0, p, eps, beta } = input;
  const [r1, r2] = rewards;
  const [s1, s2] = basins.member;
  const [r1Max, r2Max] = basins.rMax;
  const [b1, b2] = beta;
  const n = p0.length;
  let disjoint = true;
  let init1 = 0;
  let init2 = 0;
  let gap1 = Infinity;
  let gap2 = Infinity;
  let outsideGap = Infinity;
  let anyOutside = false;
  // Utilities of the final basin distributions: sums of p r_i over S_j and the masses p(S_j).
  let m1 = 0;
  let m2 = 0;
  let u11 = 0;
  let u21 = 0;
  let u12 = 0;
  let u22 = 0;
  for (let j = 0; j < n; j++) {
    const in1 = s1[j] === 1;
    const in2 = s2[j] === 1;
    if (in1 && in2) disjoint = false;
    if (in1) {
      init1 += p0[j];
      gap2 = Math.min(gap2, r2Max - r2[j]);
      m1 += p[j];
      u11 += p[j] * r1[j];
      u21 += p[j] * r2[j];
    }
    if (in2) {
      init2 += p0[j];
      gap1 = Math.min(gap1, r1Max - r1[j]);
      m2 += p[j];
      u12 += p[j] * r1[j];
      u22 += p[j] * r2[j];
    }
    if (!in1 && !in2) {
      anyOutside = true;
      outsideGap = Math.min(outsideGap, r1Max - r1[j], r2Max - r2[j]);
    }
  }

  const k1 = leakageOf(b1, gap1, 2 * eps);
  const k2 = leakageOf(b2, gap2, 2 * eps);
  const inWindow = k1 !== null && k2 !== null && k1 < q && q < 1 - k2;
  const interval = lemmaInterval(q, k1, k2);
  const intervalB5 = lemmaInterval(q, leakageOf(b1, gap1, eps), leakageOf(b2, gap2, eps));
  const intervalCorrected: [number, number] = [correctedEnd(q, b1, gap1, eps), 1 - correctedEnd(1 - q, b2, gap2, eps)];

  let outsideDomination = input.outsideDomination;
  if (!anyOutside) outsideDomination = null;
  else if (outsideDomination !== null && !(outsideDomination <= Number.MAX_VALUE)) outsideDomination = Number.MAX_VALUE;

  const largeK = input.K === 'inf';
  const gapsExceed2eps: [boolean, boolean] = [gap1 > 2 * eps, gap2 > 2 * eps];
  const applies =
    largeK &&
    disjoint &&
    init1 > 0 &&
    init2 > 0 &&
    gapsExceed2eps[0] &&
    gapsExceed2eps[1] &&
    inWindow &&
    (outsideDomination === null || outsideDomination < 1);

  const judged = final.outside < OUTSIDE_LIMIT;
  let varianceBound: [number | null, number | null] = [null, null];
  let varianceSlack: [number | null, number | null] = [null, null];
  if (share !== null) {
    const a = share;
    const bound = (gap: number) => a * (1 - a) * Math.max(gap - 2 * eps, 0) ** 2;
    varianceBound = [bound(gap1), bound(gap2)];
    varianceSlack = [final.varReward[0] - varianceBound[0]!, final.varReward[1] - varianceBound[1]!];
  }

  let nash: NashAudit = { utilities: [[null, null], [null, null]], premise: null, gains: [null, null] };
  if (m1 > 0 && m2 > 0 && share !== null) {
    const a = share;
    const U11 = u11 / m1; // u_1(P_1)
    const U12 = u12 / m2; // u_1(P_2)
    const U21 = u21 / m1; // u_2(P_1)
    const U22 = u22 / m2; // u_2(P_2)
    nash = {
      utilities: [[U11, U12], [U21, U22]],
      premise: U11 > U12 && U22 > U21,
      gains: [a * U11 + (1 - a) * U12 - U12, a * U21 + (1 - a) * U22 - U21],
    };
  }

  return {
    disjoint,
    initMass: [init1, init2],
    crossGap: [gap1, gap2],
    gapsExceed2eps,
    outsideGap: anyOutside ? outsideGap : null,
    leakage: [k1, k2],
    inWindow,
    interval,
    intervalB5,
    intervalCorrected,
    outsideDomination,
    largeK,
    applies,
    inInterval: within(interval, share, judged),
    inIntervalB5: within(intervalB5, share, judged),
    inIntervalCorrected: within(intervalCorrected, share, judged),
    varianceBound,
    varianceSlack,
    nash,
  };
}
