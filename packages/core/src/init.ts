// The initial distribution p_0 over X (section 1.2).
import type { NormalizedInit } from './types.ts';
import type { SupportPoints } from './support.ts';

/**
 * Gaussian weights over X shifted by their maximum log-density before exponentiating,
 * so the best atom gets weight 1 and no atom with a representable mass underflows early.
 */
function gaussianWeights(sp: SupportPoints, mean: number[], sd: number): Float64Array {
  const { n, d, coords } = sp;
  const out = new Float64Array(n);
  const twoVar = 2 * sd * sd;
  let maxLog = -Infinity;
  for (let j = 0; j < n; j++) {
    let r2 = 0;
    for (let k = 0; k < d; k++) {
      const dx = coords[j * d + k] - mean[k];
      r2 += dx * dx;
    }
    const lp = -r2 / twoVar;
    out[j] = lp;
    if (lp > maxLog) maxLog = lp;
  }
  for (let j = 0; j < n; j++) out[j] = Math.exp(out[j] - maxLog);
  return out;
}

function normalizeInPlace(a: Float64Array): Float64Array {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j];
  for (let j = 0; j < a.length; j++) a[j] /= s;
  return a;
}

/** p_0, normalised to sum 1. Validation guarantees it is not all zero. */
export function buildInit(init: NormalizedInit, sp: SupportPoints): Float64Array {
  const n = sp.n;
  switch (init.kind) {
    case 'uniform':
      return new Float64Array(n).fill(1 / n);
    case 'table':
      return normalizeInPlace(Float64Array.from(init.values));
    case 'gaussian':
      return normalizeInPlace(gaussianWeights(sp, init.mean, init.sd));
    case 'mixture': {
      const p = new Float64Array(n);
      for (const c of init.components) {
        if (c.weight === 0) continue;
        // Each component is normalised over X on its own, so its mass is exactly its weight.
        const g = normalizeInPlace(gaussianWeights(sp, c.mean, c.sd));
        for (let j = 0; j < n; j++) p[j] += c.weight * g[j];
      }
      return normalizeInPlace(p);
    }
  }
}
