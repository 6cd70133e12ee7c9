// One run: validate, build X, p_0 and the rewards, iterate, record, summarise.
import type { MetricsRow, NormalizedConfig, RunOutput, SimulateBudgetOptions, SimulateOptions } from './types.ts';
import { validateConfig } from './validate.ts';
import { ConfigError, SimulationCancelled } from './issues.ts';
import { buildSupport } from './support.ts';
import { buildInit } from './init.ts';
import { allRewardValues } from './rewards.ts';
import { buildBasins, MetricsRecorder } from './metrics.ts';
import { auditTwoRewards, summarize } from './summary.ts';
import { FiniteKStepper, InfiniteKStepper, type Stepper } from './dynamics-exact.ts';
import { SampledStepper } from './dynamics-sampled.ts';
import { GENERATOR_NAME } from './rng.ts';

export type SimulateAllOptions = SimulateOptions & SimulateBudgetOptions;

/** Validates (throwing ConfigError with every issue) and runs one configuration. */
export function simulate(config: unknown, options: SimulateAllOptions = {}): RunOutput {
  const v = validateConfig(config, { maxCostSeconds: options.maxCostSeconds });
  if (!v.ok) throw new ConfigError(v.issues);
  return runNormalized(v.config, options);
}

/** Runs an already validated configuration (no budget check). */
export function runNormalized(c: NormalizedConfig, options: SimulateOptions = {}): RunOutput {
  const sp = buildSupport(c.support);
  const p0 = buildInit(c.init, sp);
  const rewards = allRewardValues(c.rewards, sp);
  const s = rewards.map((r) => r.map((x) => c.beta * x));
  const basins = buildBasins(rewards, c.eps);
  const recorder = new MetricsRecorder(rewards, basins, p0);

  let stepper: Stepper;
  if (c.mode === 'sampled') {
    stepper = new SampledStepper(p0, s, c.weights, c.realFraction, c.K as number, c.samples, c.seed);
  } else if (c.K === 'inf') {
    const inf = new InfiniteKStepper(p0, s, c.weights, c.realFraction);
    inf.fuseMetrics(recorder.fusedTargets());
    stepper = inf;
  } else {
    stepper = new FiniteKStepper(p0, s, c.weights, c.realFraction, c.K);
  }

  const T = c.iterations;
  const trajectory: MetricsRow[] = [recorder.row(p0, 0, null)];
  let convergedAt: number | null = null;
  const shouldStop = options.shouldStop;
  for (let t = 1; t <= T; t++) {
    if (shouldStop && shouldStop()) throw new SimulationCancelled(t - 1);
    const record = t % c.recordEvery === 0 || t === T;
    const step = stepper.advance(record);
    if (convergedAt === null && step < c.tol) convergedAt = t;
    if (record) trajectory.push(stepper.fusedRecording ? recorder.finish(stepper.p, t, step) : recorder.row(stepper.p, t, step));
  }

  const last = trajectory[trajectory.length - 1];
  const final: MetricsRow = { ...last, mass: [...last.mass], meanReward: [...last.meanReward], varReward: [...last.varReward] };
  const audit = c.m === 2 ? auditTwoRewards(rewards, basins, p0, c.weights[0], c.eps) : null;
  const summary = summarize(final, convergedAt, c.weights, audit);
  const generator = c.mode === 'sampled' ? GENERATOR_NAME : null;
  // Key order as in the contract's section 7.
  return options.includeDistribution
    ? { trajectory, summary, distribution: Array.from(stepper.p), generator }
    : { trajectory, summary, generator };
}
