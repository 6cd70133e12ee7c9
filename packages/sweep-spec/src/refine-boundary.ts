// The boundary of a refined sweep: marching squares over the leaf cells of the
// implicit quadtree, and the Hausdorff distance used to judge it. Pure.
//
// Each leaf walks its boundary counter-clockwise through every known point on it,
// hanging nodes of finer neighbours included, so two cells that share a stretch of
// edge put the crossing on it at the same place and the segments join into polylines.
import { boundaryKeys, leafCells, type Cell, type PointValues, type RefineLattice } from './refine-lattice.ts';

/** A point in finest-lattice units (0..N per axis). */
export type LatticePoint = [number, number];

export interface BoundaryCell extends Cell {
  /** The cell holds a piece of the boundary. */
  boundary: boolean;
  /** Mean of the known values at its corners (side 0..1, or the metric); null when none is known. */
  value: number | null;
}

export interface LatticeBoundary {
  /** Polylines in lattice units; in 1-d each is a single point [x, 0]. */
  polylines: LatticePoint[][];
  /** Every leaf cell. */
  cells: BoundaryCell[];
}

export interface BoundaryOptions {
  /** 'side': values are 0/1 (crossings at edge midpoints); 'threshold': values are the metric, crossings interpolated. */
  mode: 'side' | 'threshold';
  threshold?: number;
}

/**
 * Marching squares on the leaves. With a threshold, a crossing is interpolated
 * linearly in lattice units (so on a log axis, in the logarithm); with sides it lies
 * halfway. Points whose value is unknown are skipped. In a cell crossed more than
 * twice, crossings are paired in order around it starting from one that leaves the
 * upper side (a fixed choice for saddles).
 */
export function latticeBoundary(lat: RefineLattice, values: PointValues, o: BoundaryOptions): LatticeBoundary {
  const thr = o.threshold ?? 0.5;
  const side = (v: number) => (o.mode === 'side' ? (v >= 0.5 ? 1 : 0) : v >= thr ? 1 : 0);
  const xy = (k: number): LatticePoint => lat.coords(k);
  const crossing = (a: number, b: number): LatticePoint => {
    const pa = xy(a);
    const pb = xy(b);
    let t = 0.5;
    if (o.mode === 'threshold') {
      const va = values.get(a) as number;
      const vb = values.get(b) as number;
      t = va === vb ? 0.5 : Math.min(1, Math.max(0, (thr - va) / (vb - va)));
    }
    return [pa[0] + t * (pb[0] - pa[0]), pa[1] + t * (pb[1] - pa[1])];
  };
  const edgeId = (a: number, b: number) => (a < b ? `${a}:${b}` : `${b}:${a}`);

  const cells: BoundaryCell[] = [];
  const points = new Map<string, LatticePoint>();
  const segments: [string, string][] = [];
  const singles: LatticePoint[] = [];

  for (const cell of leafCells(lat, values)) {
    const ring = boundaryKeys(lat, cell, values).filter((k) => {
      const v = values.get(k);
      return v !== null && v !== undefined && !Number.isNaN(v);
    });
    const corners = lat.dims === 2
      ? [lat.key(cell.ix, cell.iy), lat.key(cell.ix + cell.h, cell.iy), lat.key(cell.ix + cell.h, cell.iy + cell.h), lat.key(cell.ix, cell.iy + cell.h)]
      : [lat.key(cell.ix), lat.key(cell.ix + cell.h)];
    const known = corners.map((k) => values.get(k)).filter((v): v is number => v !== null && v !== undefined);
    const value = known.length ? known.reduce((s, v) => s + v, 0) / known.length : null;
    if (lat.dims === 1) {
      let boundary = false;
      if (ring.length === 2 && side(values.get(ring[0])!) !== side(values.get(ring[1])!)) {
        singles.push(crossing(ring[0], ring[1]));
        boundary = true;
      }
      cells.push({ ...cell, boundary, value });
      continue;
    }
    const cross: { id: string; up: boolean }[] = [];
    for (let i = 0; i < ring.length && ring.length > 1; i++) {
      const a = ring[i];
      const b = ring[(i + 1) % ring.length];
      const sa = side(values.get(a)!);
      const sb = side(values.get(b)!);
      if (sa === sb) continue;
      const id = edgeId(a, b);
      if (!points.has(id)) points.set(id, crossing(a, b));
      cross.push({ id, up: sa === 1 });
    }
    if (cross.length >= 2) {
      let s = cross.findIndex((c) => c.up);
      if (s < 0) s = 0;
      for (let j = 0; j + 1 < cross.length; j += 2) {
        segments.push([cross[(s + j) % cross.length].id, cross[(s + j + 1) % cross.length].id]);
      }
    }
    cells.push({ ...cell, boundary: cross.length >= 2, value });
  }

  if (lat.dims === 1) return { polylines: singles.map((p) => [p]), cells };
  return { polylines: chain(segments, points), cells };
}

/** Joins segments that share an end into polylines (closed loops repeat their first point). */
function chain(segments: [string, string][], points: Map<string, LatticePoint>): LatticePoint[][] {
  const at = new Map<string, number[]>();
  segments.forEach(([a, b], i) => {
    for (const p of [a, b]) {
      const list = at.get(p);
      if (list) list.push(i);
      else at.set(p, [i]);
    }
  });
  const used = new Uint8Array(segments.length);
  const walk = (from: string, line: string[]): void => {
    let cur = from;
    for (;;) {
      const next = (at.get(cur) ?? []).find((i) => !used[i]);
      if (next === undefined) return;
      used[next] = 1;
      const [a, b] = segments[next];
      cur = a === cur ? b : a;
      line.push(cur);
    }
  };
  const out: LatticePoint[][] = [];
  // Open lines first, from an end (a point with one segment), then whatever loops are left.
  const ends = [...at.entries()].filter(([, l]) => l.length === 1).map(([p]) => p);
  for (const start of [...ends, ...segments.map((s) => s[0])]) {
    if ((at.get(start) ?? []).every((i) => used[i])) continue;
    const line = [start];
    walk(start, line);
    out.push(line.map((id) => points.get(id)!));
  }
  return out;
}

/** Distance from p to the segment ab. */
function pointSegment(p: LatticePoint, a: LatticePoint, b: LatticePoint): number {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len2 = dx * dx + dy * dy;
  let t = len2 === 0 ? 0 : ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2;
  t = Math.max(0, Math.min(1, t));
  return Math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy));
}

/** Points along the polylines, at most `spacing` apart. */
export function samplePolylines(lines: LatticePoint[][], spacing = 0.25): LatticePoint[] {
  const out: LatticePoint[] = [];
  for (const line of lines) {
    if (line.length === 1) out.push(line[0]);
    for (let i = 0; i + 1 < line.length; i++) {
      const [a, b] = [line[i], line[i + 1]];
      const n = Math.max(1, Math.ceil(Math.hypot(b[0] - a[0], b[1] - a[1]) / spacing));
      for (let k = 0; k < n; k++) out.push([a[0] + ((b[0] - a[0]) * k) / n, a[1] + ((b[1] - a[1]) * k) / n]);
      if (i + 2 === line.length) out.push(b);
    }
  }
  return out;
}

/** Largest distance from a sample of `from` to the polylines `to` (Infinity when `to` is empty and `from` is not). */
function directed(from: LatticePoint[], to: LatticePoint[][]): number {
  const segs: [LatticePoint, LatticePoint][] = [];
  const dots: LatticePoint[] = [];
  for (const l of to) {
    if (l.length === 1) dots.push(l[0]);
    for (let i = 0; i + 1 < l.length; i++) segs.push([l[i], l[i + 1]]);
  }
  if (!from.length) return 0;
  if (!segs.length && !dots.length) return Infinity;
  let worst = 0;
  for (const p of from) {
    let best = Infinity;
    for (const d of dots) best = Math.min(best, Math.hypot(p[0] - d[0], p[1] - d[1]));
    for (const [a, b] of segs) {
      if (best <= worst) break; // cannot raise the maximum any more
      const d = pointSegment(p, a, b);
      if (d < best) best = d;
    }
    if (best > worst) worst = best;
  }
  return worst;
}

/**
 * Hausdorff distance between two sets of polylines, in the units of their points
 * (lattice units: 1 = one finest cell), from samples `spacing` apart on each.
 */
export function hausdorff(a: LatticePoint[][], b: LatticePoint[][], spacing = 0.25): number {
  return Math.max(directed(samplePolylines(a, spacing), b), directed(samplePolylines(b, spacing), a));
}
