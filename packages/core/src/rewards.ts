// Reward values r_i(x_j) over X (section 1.3), unscaled (beta is applied by the dynamics).
import type { NormalizedReward, NormalizedSupport } from './types.ts';
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
    case 'abs':
      for (let j = 0; j < n; j++) {
        let r2 = 0;
        for (let k = 0; k < d; k++) {
          const dx = coords[j * d + k] - r.center[k];
          r2 += dx * dx;
        }
        out[j] = -r.scale * Math.sqrt(r2);
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

/**
 * An upper bound on max r - min r over the support, from the reward's parameters and
 * the support's bounding box, without evaluating r at every atom (cost estimates run
 * for every configuration of a sweep before anything is queued).
 */
export function rewardRangeBound(r: NormalizedReward, s: NormalizedSupport): number {
  let range: number;
  switch (r.kind) {
    case 'table': {
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of r.values) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      range = r.values.length ? hi - lo : 0;
      break;
    }
    case 'gaussian':
      range = Math.abs(r.height);
      break;
    case 'quadratic':
    case 'abs': {
      // -scale |x - c|^p (p = 2 or 1) with |x - c|^2 between 0 and its largest value over the box
      const box = boundingBox(s);
      let far = 0;
      for (let k = 0; k < box.lo.length; k++) far += Math.max(Math.abs(box.lo[k] - r.center[k]), Math.abs(box.hi[k] - r.center[k])) ** 2;
      range = Math.abs(r.scale) * (r.kind === 'abs' ? Math.sqrt(far) : far);
      break;
    }
    case 'linear': {
      const box = boundingBox(s);
      range = 0;
      for (let k = 0; k < box.lo.length; k++) range += Math.abs(r.coef[k]) * (box.hi[k] - box.lo[k]);
      break;
    }
  }
  if (r.clip?.min !== undefined && r.clip?.max !== undefined) range = Math.min(range, r.clip.max - r.clip.min);
  return range;
}

/** Per-axis bounds of the support's points (grid cell centres lie inside [min, max]); none for abstract atoms. */
function boundingBox(s: NormalizedSupport): { lo: number[]; hi: number[] } {
  if (s.kind === 'grid') return { lo: s.min, hi: s.max };
  if (s.kind === 'atoms') return { lo: [], hi: [] };
  const d = s.points[0]?.length ?? 0;
  const lo = new Array<number>(d).fill(Infinity);
  const hi = new Array<number>(d).fill(-Infinity);
  for (const x of s.points) {
    for (let k = 0; k < d; k++) {
      if (x[k] < lo[k]) lo[k] = x[k];
      if (x[k] > hi[k]) hi[k] = x[k];
    }
  }
  return { lo, hi };
}
