// A rough CPU-time and memory estimate of one run, so that the CLI and the API can
// refuse a job that would run for hours (or not fit) before starting it. Constants
// are per-unit times measured on the development machine (see bench/core-bench.ts,
// which prints this estimate next to its measurements), rounded up.
import type { CostEstimate, NormalizedConfig } from './types.ts';
import { finiteKNodeBound } from './finite-k.ts';
import { rewardRangeBound } from './rewards.ts';
import { kernelHalfWindow } from './models.ts';

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
 * costs more than the atom count says, and a per-atom constant alone underestimates
 * sharp curation. The finite-k bench prints this model next to its measurements; the
 * figures are in the core README ("Cost estimate").
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
/** Seconds per atom per generation of the general pipeline's own passes (normalisers, accumulate, real data, commit). */
const PIPELINE_ATOM = 15e-9;
/** Seconds per atom per reward per generation of the pipeline's K = inf curation. */
const PIPELINE_INF = 3e-9;
/** Seconds per atom of an alias table rebuilt every generation (sampled mode from an explicit p_t). */
const ALIAS_ATOM = 20e-9;
/** Seconds per term (one atom, one window cell, one axis) of the kernel fit. */
const KERNEL_TERM = 2e-9;
/** Seconds per atom of the kernel fit's other per-axis work (pre-scaling). */
const KERNEL_AXIS_ATOM = 2e-9;
/** Seconds per atom per generation of the gaussian fit, and per (d^2) term of its moments and quadratic form. */
const GAUSSIAN_ATOM = 40e-9;
const GAUSSIAN_D2 = 3e-9;
/** Seconds per atom per component of one evaluation of a mixture (log-density, exp) and per d^2 term of it. */
const MIXTURE_EVAL = 25e-9;
const MIXTURE_D2 = 5e-9;
/** Seconds per pair of points of the kernel fit on a points support (kept matrix / computed per generation). */
const POINTS_PAIR_KEPT = 1.5e-9;
const POINTS_PAIR = 15e-9;
/** Points supports up to this many atoms keep the kernel matrix (as models.ts does). */
const POINTS_MATRIX_LIMIT = 2048;

/** Seconds per generation of the model's Fit (0 for exact), and of its one-off set-up. */
function fitSeconds(c: NormalizedConfig): { perGeneration: number; setup: number } {
  const { n, d } = c;
  const model = c.model;
  switch (model.kind) {
    case 'exact':
      return { perGeneration: 0, setup: 0 };
    case 'kernel': {
      if (c.support.kind === 'grid') {
        const s = c.support;
        let terms = 0;
        for (let k = 0; k < s.n.length; k++) terms += n * (2 * kernelHalfWindow(s.min[k], s.max[k], s.n[k], model.bandwidth) + 1);
        return { perGeneration: terms * KERNEL_TERM + n * s.n.length * KERNEL_AXIS_ATOM, setup: terms * 10e-9 };
      }
      const pairs = n * n;
      const kept = n <= POINTS_MATRIX_LIMIT;
      return { perGeneration: pairs * (kept ? POINTS_PAIR_KEPT : POINTS_PAIR), setup: pairs * (kept ? 2 : 1) * POINTS_PAIR };
    }
    case 'gaussian':
      return { perGeneration: n * (GAUSSIAN_ATOM + d * d * GAUSSIAN_D2), setup: 0 };
    case 'mixture': {
      // e E-steps and the final density evaluate every component at every atom; each
      // M-step walks k weighted moments of d^2 terms.
      const evals = (model.emSteps + 1) * model.components * n;
      const mSteps = model.emSteps * model.components * n * (d + d * d);
      return { perGeneration: evals * (MIXTURE_EVAL + d * d * MIXTURE_D2) + mSteps * MIXTURE_D2, setup: n * 100e-9 };
    }
  }
}

export function estimateCost(c: NormalizedConfig): CostEstimate {
  const T = c.iterations;
  const recorded = Math.floor(T / c.recordEvery) + 2;
  const recordCost = c.n * recorded * RECORD;
  const fit = fitSeconds(c);
  const plain = c.model.kind === 'exact' && c.retrain === 'replace';
  if (c.mode === 'sampled') {
    const K = c.K === 'inf' ? 1 : c.K;
    const draws = c.samples * K * T;
    let perGeneration = c.n * SAMPLED_ATOM + fit.perGeneration;
    // From an explicit p_t: one alias table of p_t (finite K) or of p_t e^{s_i} per reward (K = inf).
    if (!plain || c.K === 'inf') perGeneration += c.n * (PIPELINE_ATOM + ALIAS_ATOM * (c.K === 'inf' ? c.m : 1));
    return { seconds: draws * SAMPLED_DRAW + perGeneration * T + recordCost + fit.setup, atomGenerations: draws };
  }
  const atomGenerations = c.n * c.m * T;
  let perGeneration: number;
  if (c.K === 'inf') perGeneration = c.n * c.m * (plain ? INF_UPDATE : PIPELINE_INF);
  else {
    perGeneration = 0;
    for (const r of c.rewards) {
      perGeneration += finiteKCallSeconds(c.n, finiteKNodeBound(c.n, c.K, r.beta * rewardRangeBound(r, c.support)));
    }
  }
  if (!plain) perGeneration += c.n * PIPELINE_ATOM + fit.perGeneration;
  // The B.4 normalisers of steppers that do not keep them (m = 2, finite K): one pass per reward.
  if (c.m === 2 && c.K !== 'inf' && plain) perGeneration += c.n * c.m * PIPELINE_INF;
  return { seconds: perGeneration * T + recordCost + fit.setup, atomGenerations };
}

/**
 * Bytes one run holds at its peak, roughly: the n-vectors of the support, p_0, p,
 * the rewards and their exponentials, the stepper's and the model's buffers, the
 * sampled mode's sample arrays, and the recorded trajectory. For memory limits on
 * workers; an estimate within a small factor, not an accounting.
 */
export function estimateMemoryBytes(c: NormalizedConfig): number {
  const { n, m, d } = c;
  const plain = c.model.kind === 'exact' && c.retrain === 'replace';
  // coordinates, p0, p, rewards and scaled rewards and exponentials, basin membership and classes
  let vectors = d + 2 + 3 * m;
  let bytes = n * m + 4 * n;
  if (c.mode === 'exact' && c.K !== 'inf') {
    // Finite-K multiplier per reward: window tables and series coefficients (~76 doubles an atom) and H.
    vectors += m * 77;
  }
  if (!plain || c.mode === 'sampled') vectors += 5 + m; // tilde, sum, D, next, counts, per-generation exponentials
  if (c.mode === 'sampled') {
    bytes += 8 * c.samples; // previous and next samples (Int32Array each)
    vectors += 3 * (c.K === 'inf' ? m : 1); // alias tables (prob, alias, scratch)
  }
  const model = c.model;
  if (model.kind === 'kernel') {
    if (c.support.kind === 'grid') {
      vectors += 3;
      const s = c.support;
      for (let k = 0; k < s.n.length; k++) {
        const band = s.n[k] * (2 * kernelHalfWindow(s.min[k], s.max[k], s.n[k], model.bandwidth) + 1);
        bytes += 8 * (band <= 1 << 22 ? band : s.n[k]);
      }
    } else bytes += 8 * (n <= POINTS_MATRIX_LIMIT ? n * n : n);
  } else if (model.kind === 'mixture') vectors += model.components;
  const rows = Math.floor(c.iterations / c.recordEvery) + 2;
  const trajectory = rows * (8 * (3 * m + 6) + 200);
  return vectors * 8 * n + bytes + trajectory;
}
