// A rough CPU-time estimate of one run, so that the CLI and the API can refuse a
// job that would run for hours before starting it. Constants are per-unit times
// measured on the development machine (see bench/core-bench.ts), rounded up.
import type { CostEstimate, NormalizedConfig } from './types.ts';
import { finiteKNodeBound } from './finite-k.ts';
import { rewardRangeBound } from './rewards.ts';

export const DEFAULT_MAX_COST_SECONDS = 300;

/** Seconds per atom per reward per generation, K = inf (fused update pass). */
const INF_UPDATE = 1.5e-9;
/** Seconds per atom per recorded generation (entropy, basins, means, variances). */
const RECORD = 10e-9;
/** Seconds per atom per reward per generation for the exact finite-K multiplier (and stepper). */
const FINITE_K = 150e-9;
/**
 * Seconds per node of the multiplier's layout per reward per generation. The nodes
 * span the scores beta * r in steps of 1/4, so a wide range of scores (large beta)
 * costs more than the atom count says: at n = 2001, beta = 100 a call took 1.5-1.8 ms
 * against 0.22-0.40 ms at beta = 1 (finite-k bench, which prints this model next to
 * its measurements); 16-31 ns per node over the bench's cases, rounded up.
 */
const FINITE_K_NODE = 30e-9;

/** Estimated seconds of one finite-K multiplier call (and its share of the step) for n atoms and a layout of `nodes`. */
export function finiteKCallSeconds(n: number, nodes: number): number {
  return n * FINITE_K + nodes * FINITE_K_NODE;
}
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
  if (c.K === 'inf') return { seconds: atomGenerations * INF_UPDATE + recordCost, atomGenerations };
  let perGeneration = 0;
  for (const r of c.rewards) {
    perGeneration += finiteKCallSeconds(c.n, finiteKNodeBound(c.n, c.K, c.beta * rewardRangeBound(r, c.support)));
  }
  return { seconds: perGeneration * T + recordCost, atomGenerations };
}
