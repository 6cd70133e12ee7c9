// Reward values r_i(x_j) over X (section 1.3), unscaled (beta is applied by the dynamics).
import type { NormalizedReward } from './types.ts';
import type { SupportPoints } from './support.ts';

/** Values into `out` when given (at least n long; validation reuses one buffer), else a new array. */
export function rewardValues(r: NormalizedReward, sp: SupportPoints, out: Float64Array = new Float64Array(sp.n)): Float64Array {
  const { n, d, coords } = sp;
  switch (r.kind) {
    case 'table':
      out.set(r.values);
      break;
    case 'quadratic':
      for (let j = 0; j < n; j++) {
        let r2 = 0;
        for (let k = 0; k < d; k++) {
          const dx = coords[j * d + k] - r.center[k];
          r2 += dx * dx;
        }
        out[j] = -r.scale * r2;
      }
      break;
    case 'gaussian': {
      const twoVar = 2 * r.width * r.width;
      for (let j = 0; j < n; j++) {
        let r2 = 0;
        for (let k = 0; k < d; k++) {
          const dx = coords[j * d + k] - r.center[k];
          r2 += dx * dx;
        }
        out[j] = r.height * Math.exp(-r2 / twoVar);
      }
      break;
    }
    case 'linear':
      for (let j = 0; j < n; j++) {
        let v = 0;
        for (let k = 0; k < d; k++) v += r.coef[k] * coords[j * d + k];
        out[j] = v + r.bias;
      }
      break;
  }
  const lo = r.clip?.min ?? -Infinity;
  const hi = r.clip?.max ?? Infinity;
  if (lo !== -Infinity || hi !== Infinity) {
    for (let j = 0; j < n; j++) out[j] = Math.min(Math.max(out[j], lo), hi);
  }
  return out;
}

/** All m reward vectors. */
export function allRewardValues(rewards: NormalizedReward[], sp: SupportPoints): Float64Array[] {
  return rewards.map((r) => rewardValues(r, sp));
}
