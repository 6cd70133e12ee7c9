// The finite set X: coordinates of every atom, flattened row-major (atom j's
// coordinates at [j*d, (j+1)*d)).
import type { NormalizedSupport } from './types.ts';

export interface SupportPoints {
  d: number;
  n: number;
  coords: Float64Array;
}

export function supportSize(s: NormalizedSupport): number {
  if (s.kind === 'atoms') return s.n;
  if (s.kind === 'points') return s.points.length;
  return s.n.reduce((a, b) => a * b, 1);
}

export function supportDimension(s: NormalizedSupport): number {
  if (s.kind === 'atoms') return 0;
  if (s.kind === 'points') return s.points[0].length;
  return s.n.length;
}

export function buildSupport(s: NormalizedSupport): SupportPoints {
  const d = supportDimension(s);
  const n = supportSize(s);
  const coords = new Float64Array(n * d);
  if (s.kind === 'points') {
    for (let j = 0; j < n; j++) for (let k = 0; k < d; k++) coords[j * d + k] = s.points[j][k];
  } else if (s.kind === 'grid') {
    // Cell centres per axis, written exactly as the contract's formula so that
    // coordinates (and hence basin membership at exact ties) match other implementations.
    const axes = s.n.map((nk, k) => {
      const a = new Float64Array(nk);
      for (let j = 0; j < nk; j++) a[j] = s.min[k] + ((j + 0.5) * (s.max[k] - s.min[k])) / nk;
      return a;
    });
    // Row-major, last axis fastest: decompose the flat index with the last axis innermost.
    for (let j = 0; j < n; j++) {
      let rest = j;
      for (let k = d - 1; k >= 0; k--) {
        const nk = s.n[k];
        coords[j * d + k] = axes[k][rest % nk];
        rest = Math.floor(rest / nk);
      }
    }
  }
  return { d, n, coords };
}
