// Public API of the curation core: pure TypeScript, no I/O.
export * from './types.ts';
export { RunConfigSchema } from './schema.ts';
export { validateConfig, DEFAULTS, MAX_ATOMS, MAX_SAMPLES, type ValidationResult, type ValidateOptions } from './validate.ts';
export { estimateCost, estimateMemoryBytes, DEFAULT_MAX_COST_SECONDS } from './cost.ts';
export { normalizeForHash, normalizedFields } from './normalize.ts';
export { ConfigError, SimulationCancelled, formatIssues } from './issues.ts';
export { simulate, runNormalized, type SimulateAllOptions } from './simulate.ts';
export { GENERATOR_NAME } from './rng.ts';
export { CONTRACT, CORE_VERSION } from './version.ts';
export { configAsRun } from './config-as-run.ts';
export {
  projectedDrift,
  ConvergenceTracker,
  DecayRegression,
  COLLAPSE_MASS,
  SURVIVAL_FRACTION,
  SHARE_STEP_ZERO,
  OUTSIDE_LIMIT,
} from './summary.ts';
