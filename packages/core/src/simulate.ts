// One run: validate, build X, p_0 and the rewards, iterate, record, summarise.
import type { MetricsRow, NormalizedConfig, RunOutput, SimulateBudgetOptions, SimulateOptions } from './types.ts';
import { validateConfig } from './validate.ts';
import { ConfigError, SimulationCancelled } from './issues.ts';
import { buildSupport, type SupportPoints } from './support.ts';
import { buildInit } from './init.ts';
import { allRewardValues } from './rewards.ts';
import { buildBasins, MetricsRecorder, type Basins } from './metrics.ts';
import { ConvergenceTracker, DecayRegression, summarize } from './summary.ts';
import type { Stepper } from './dynamics-exact.ts';
import { createStepper } from './dynamics-general.ts';
import { GENERATOR_NAME } from './rng.ts';
import { configAsRun } from './config-as-run.ts';
import { CONTRACT, CORE_VERSION } from './version.ts';

export type SimulateAllOptions = SimulateOptions & SimulateBudgetOptions;

/** Validates (throwing ConfigError with every issue) and runs one configuration. */
export function simulate(config: unknown, options: SimulateAllOptions = {}): RunOutput {
  const v = validateConfig(config, { maxCostSeconds: options.maxCostSeconds });
  if (!v.ok) throw new ConfigError(v.issues);
  return runNormalized(v.config, options);
}

/** beta_i of each reward: its own beta, else the run's. */
export function rewardBetas(c: NormalizedConfig): number[] {
  return c.rewards.map((r) => {
    const b = (r as { beta?: number }).beta;
    return typeof b === 'number' ? b : c.beta;
  });
}

/**
 * The per-generation macro state the summary needs (section 4's shareStep, the
 * outside mass for the decay rate, and the audit's B.4 maximum), read after
 * every advance().
 */
interface MacroState {
  readonly shareStep: number;
  readonly outside: number;
  readonly outsideDomination: number | null;
}

function buildStepper(c: NormalizedConfig, p0: Float64Array, s: Float64Array[], basins: Basins, recorder: MetricsRecorder): Stepper {
  return createStepper(c, p0, s, basins, recorder);
}

/**
 * Computes the macro state from p after each generation for a stepper that does
 * not track it itself: one pass over X for the masses, and one over X per reward
 * for the normalisers of the B.4 multiplier before each step.
 */
class ObservedMacro implements MacroState {
  shareStep = 0;
  outside = 0;
  outsideDomination: number | null = null;
  private readonly classMass: Float64Array;
  private readonly prev: Float64Array;
  private readonly cur: Float64Array;
  private readonly E: Float64Array[];
  private readonly outsideAtoms: Int32Array;

  constructor(
    private readonly basins: Basins,
    private readonly stepper: Stepper,
    s: Float64Array[],
    private readonly weights: number[],
  ) {
    const m = basins.m;
    this.classMass = new Float64Array(basins.classRewards.length);
    this.prev = new Float64Array(m + 1);
    this.cur = new Float64Array(m + 1);
    const outside: number[] = [];
    for (let j = 0; j < basins.classOf.length; j++) if (basins.classRewards[basins.classOf[j]].length === 0) outside.push(j);
    this.outsideAtoms = Int32Array.from(outside);
    // Exponentials shifted by the maximum score over X: the multiplier does not depend on the shift.
    this.E = s.map((si) => {
      let mx = -Infinity;
      for (const v of si) if (v > mx) mx = v;
      return si.map((v) => Math.exp(v - mx));
    });
    this.macro(stepper.p, this.prev);
  }

  private macro(p: Float64Array, into: Float64Array): void {
    const b = this.basins;
    const cm = this.classMass.fill(0);
    for (let j = 0; j < p.length; j++) cm[b.classOf[j]] += p[j];
    into.fill(0);
    for (let k = 0; k < cm.length; k++) {
      const rs = b.classRewards[k];
      if (rs.length === 0) into[b.m] += cm[k];
      for (const i of rs) into[i] += cm[k];
    }
  }

  /** Before advance(): the B.4 multiplier under the current p. */
  before(): void {
    if (this.outsideAtoms.length === 0) return;
    const p = this.stepper.p;
    let best = this.outsideDomination ?? -Infinity;
    const coef = this.E.map((e, i) => {
      let z = 0;
      for (let j = 0; j < p.length; j++) z += p[j] * e[j];
      return this.weights[i] / z;
    });
    for (const j of this.outsideAtoms) {
      let w = 0;
      for (let i = 0; i < coef.length; i++) w += coef[i] * this.E[i][j];
      if (w > best) best = w;
    }
    this.outsideDomination = best;
  }

  /** After advance(). */
  after(): void {
    this.macro(this.stepper.p, this.cur);
    let d = 0;
    for (let i = 0; i < this.cur.length; i++) d = Math.max(d, Math.abs(this.cur[i] - this.prev[i]));
    this.shareStep = d;
    this.outside = this.cur[this.basins.m];
    this.prev.set(this.cur);
  }
}

/** Runs an already validated configuration (no budget check). */
export function runNormalized(c: NormalizedConfig, options: SimulateOptions = {}): RunOutput {
  const sp = buildSupport(c.support);
  const p0 = buildInit(c.init, sp);
  const rewards = allRewardValues(c.rewards, sp);
  const beta = rewardBetas(c);
  const s = rewards.map((r, i) => r.map((x) => beta[i] * x));
  const basins = buildBasins(rewards, c.eps);
  const recorder = new MetricsRecorder(rewards, basins, p0);
  const stepper = buildStepper(c, p0, s, basins, recorder);
  const tracked = 'shareStep' in stepper;
  const observed = tracked ? null : new ObservedMacro(basins, stepper, s, c.weights);
  const macro = (observed ?? stepper) as unknown as MacroState;

  const T = c.iterations;
  const first = recorder.row(p0, 0, null);
  first.shareStep = null;
  const trajectory: MetricsRow[] = [first];
  const convergence = new ConvergenceTracker(c.tol);
  const decay = new DecayRegression(T);
  decay.add(0, first.outside);
  const shouldStop = options.shouldStop;
  for (let t = 1; t <= T; t++) {
    if (shouldStop && shouldStop()) throw new SimulationCancelled(t - 1);
    const record = t % c.recordEvery === 0 || t === T;
    observed?.before();
    const step = stepper.advance(record);
    observed?.after();
    const shareStep = macro.shareStep;
    convergence.push(shareStep);
    if (decay.wants(t)) decay.add(t, macro.outside);
    if (record) {
      const row = stepper.fusedRecording ? recorder.finish(stepper.p, t, step) : recorder.row(stepper.p, t, step);
      row.shareStep = shareStep;
      trajectory.push(row);
    }
  }

  const last = trajectory[trajectory.length - 1];
  const final: MetricsRow = { ...last, mass: [...last.mass], meanReward: [...last.meanReward], varReward: [...last.varReward] };
  const { converged, convergedAt } = convergence.result();
  const summary = summarize({
    final,
    weights: c.weights,
    converged,
    convergedAt,
    outsideDecayRate: decay.slope(),
    audit:
      c.m === 2
        ? { rewards, basins, p0, p: stepper.p, eps: c.eps, beta, K: c.K, outsideDomination: T === 0 ? null : macro.outsideDomination }
        : null,
  });
  const out: RunOutput = {
    contract: CONTRACT,
    coreVersion: CORE_VERSION,
    config: configAsRun(c),
    trajectory,
    summary,
  } as RunOutput;
  if (options.includeDistribution) {
    out.distribution = Array.from(stepper.p);
    out.coordinates = coordinatesOf(c, sp);
  }
  // Last, as in the contract's section 7.
  out.generator = c.mode === 'sampled' ? GENERATOR_NAME : null;
  return out;
}

function coordinatesOf(c: NormalizedConfig, sp: SupportPoints): number[][] | null {
  if (c.support.kind === 'atoms') return null;
  const { n, d, coords } = sp;
  const out: number[][] = new Array(n);
  for (let j = 0; j < n; j++) out[j] = Array.from(coords.subarray(j * d, (j + 1) * d));
  return out;
}
