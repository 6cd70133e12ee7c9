// One run: validate, build X, p_0 and the rewards, iterate, record, summarise.
import type { MetricsRow, NormalizedConfig, RunOutput, SimulateBudgetOptions, SimulateOptions } from './types.ts';
import { validateConfig } from './validate.ts';
import { ConfigError, SimulationCancelled } from './issues.ts';
import { buildSupport, type SupportPoints } from './support.ts';
import { buildInit } from './init.ts';
import { allRewardValues } from './rewards.ts';
import { buildBasins, MetricsRecorder } from './metrics.ts';
import { ConvergenceTracker, DecayRegression, summarize } from './summary.ts';
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

/** Runs an already validated configuration (no budget check). */
export function runNormalized(c: NormalizedConfig, options: SimulateOptions = {}): RunOutput {
  const sp = buildSupport(c.support);
  const p0 = buildInit(c.init, sp);
  const rewards = allRewardValues(c.rewards, sp);
  const beta = rewardBetas(c);
  const s = rewards.map((r, i) => r.map((x) => beta[i] * x));
  const basins = buildBasins(rewards, c.eps);
  const recorder = new MetricsRecorder(rewards, basins, p0);
  // Every stepper tracks the macro state and the B.4 maximum as it goes: the summary
  // needs them at every generation, not only the recorded ones.
  const stepper = createStepper(c, p0, s, basins, recorder);

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
    const step = stepper.advance(record);
    const shareStep = stepper.shareStep;
    convergence.push(shareStep);
    if (decay.wants(t)) decay.add(t, stepper.outside);
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
        ? { rewards, basins, p0, p: stepper.p, eps: c.eps, beta, K: c.K, outsideDomination: T === 0 ? null : stepper.outsideDomination }
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
