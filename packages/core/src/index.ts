// Public API of the curation core: pure TypeScript, no I/O.
export * from './types.ts';
export { RunConfigSchema } from './schema.ts';
export { validateConfig, DEFAULTS, MAX_ATOMS, MAX_SAMPLES, type ValidationResult, type ValidateOptions } from './validate.ts';
export { estimateCost, DEFAULT_MAX_COST_SECONDS } from './cost.ts';
export { normalizeForHash, normalizedFields } from './normalize.ts';
export { ConfigError, SimulationCancelled, formatIssues } from './issues.ts';
export { simulate, runNormalized, type SimulateAllOptions } from './simulate.ts';
export { GENERATOR_NAME } from './rng.ts';

/** Version of the numerical core; bumped whenever outputs for a given configuration change. */
export const CORE_VERSION = '1.0.1';
