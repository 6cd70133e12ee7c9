// A rough CPU-time estimate of one run, so that the CLI and the API can refuse a
// job that would run for hours before starting it. Constants are per-unit times
// measured on the development machine (see bench/core-bench.ts), rounded up.
import type { CostEstimate, NormalizedConfig } from './types.ts';

export const DEFAULT_MAX_COST_SECONDS = 300;

/** Seconds per atom per reward per generation, K = inf (fused update pass). */
const INF_UPDATE = 1.5e-9;
/** Seconds per atom per recorded generation (entropy, basins, means, variances). */
const RECORD = 10e-9;
/** Seconds per atom per reward per generation for the exact finite-K multiplier. */
const FINITE_K = 150e-9;
/** Seconds per candidate draw in sampled mode. */
const SAMPLED_DRAW = 30e-9;
/** Seconds per atom per generation in sampled mode (refit, step). */
const SAMPLED_ATOM = 3e-9;

export function estimateCost(c: NormalizedConfig): CostEstimate {
  const T = c.iterations;
  const recorded = Math.floor(T / c.recordEvery) + 2;
  const recordCost = c.n * recorded * RECORD;
  if (c.mode === 'sampled') {
    const K = c.K === 'inf' ? 1 : c.K;
    const draws = c.samples * K * T;
    return { seconds: draws * SAMPLED_DRAW + c.n * T * SAMPLED_ATOM + recordCost, atomGenerations: draws };
  }
  const atomGenerations = c.n * c.m * T;
  const perUnit = c.K === 'inf' ? INF_UPDATE : FINITE_K;
  return { seconds: atomGenerations * perUnit + recordCost, atomGenerations };
}
