// The canonical form of a configuration used for content hashing and dedup.
import type { NormalizedConfig } from './types.ts';

/**
 * The user's configuration with every default filled in, q turned into weights
 * and bare numbers turned into one-element arrays, as a plain JSON object with a
 * fixed key order. Two configurations that describe the same run give equal
 * objects. Fields that cannot influence the output are dropped (samples and seed
 * in exact mode), so that such runs dedupe.
 */
export function normalizeForHash(config: NormalizedConfig): Record<string, unknown> {
  // A deep copy through JSON: no shared references with the live config, no undefined values.
  return JSON.parse(JSON.stringify(normalizedFields(config))) as Record<string, unknown>;
}

/**
 * The fields of normalizeForHash before its deep copy: they may share objects with
 * `config` and hold undefined values. For callers that serialise the result anyway
 * (the worker hashes its canonical JSON), which makes the copy redundant.
 */
export function normalizedFields(config: NormalizedConfig): Record<string, unknown> {
  const c = config;
  const out: Record<string, unknown> = {
    support: c.support,
    init: c.init,
    rewards: c.rewards.map((r) => {
      if (!r.clip) return r;
      const clip: Record<string, number> = {};
      if (r.clip.min !== undefined) clip.min = r.clip.min;
      if (r.clip.max !== undefined) clip.max = r.clip.max;
      return { ...r, clip };
    }),
    weights: c.weights,
    K: c.K,
    beta: c.beta,
    realFraction: c.realFraction,
    iterations: c.iterations,
    mode: c.mode,
  };
  if (c.mode === 'sampled') {
    out.samples = c.samples;
    out.seed = c.seed;
  }
  out.eps = c.eps;
  out.tol = c.tol;
  out.recordEvery = c.recordEvery;
  out.model = c.model;
  out.retrain = c.retrain;
  return out;
}
