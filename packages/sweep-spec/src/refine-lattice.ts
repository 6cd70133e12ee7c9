// The dyadic lattice of an adaptive (refine) sweep and its refinement rule. Pure.
//
// Points live on the finest lattice: integer coordinates 0..N per refine axis, N =
// start x 2^depth cells. A point's level is the coarsest lattice it belongs to, and
// its run indexes follow from its coordinates alone (level-0 points first, then each
// finer level's new points, row-major): any process can map an index back to its
// configuration from the stored spec, stage 0 is the contiguous range the ordinary
// enqueuer handles, and a refinement stage only ever adds indexes above those of the
// levels it completes.
//
// The quadtree is implicit: a cell is split exactly when its centre point exists, so
// the set of points computed so far is the whole refinement state (nothing else to
// store or recover).

export type Dims = 1 | 2;

/** What a point's outcome is compared by: a side (0/1) for verdicts and thresholds, a raw number for a tolerance. */
export type RuleKind = 'side' | 'tolerance';

export class RefineLattice {
  readonly dims: Dims;
  /** Cells per axis on the starting grid. */
  readonly start: number;
  readonly depth: number;
  /** Cells per axis at the finest level: start x 2^depth. */
  readonly finest: number;
  /** Lattice points per axis at the finest level. */
  readonly side: number;
  /** Configurations per point (the product of the sweep's ordinary axes). */
  readonly fixed: number;

  constructor(dims: Dims, start: number, depth: number, fixed = 1) {
    this.dims = dims;
    this.start = start;
    this.depth = depth;
    this.finest = start * 2 ** depth;
    this.side = this.finest + 1;
    this.fixed = fixed;
  }

  /** Cells per axis at `level`. */
  cellsAt(level: number): number {
    return this.start * 2 ** level;
  }

  /** Points of the whole lattice at `level` (all coarser levels included). */
  pointsThrough(level: number): number {
    return (this.cellsAt(level) + 1) ** this.dims;
  }

  /** Runs of the starting grid: indexes 0..startRuns-1. */
  get startRuns(): number {
    return this.pointsThrough(0) * this.fixed;
  }

  /** Runs of the full finest lattice: every index is below this. */
  get capacity(): number {
    return this.side ** this.dims * this.fixed;
  }

  key(ix: number, iy = 0): number {
    return this.dims === 2 ? ix * this.side + iy : ix;
  }

  coords(key: number): [number, number] {
    if (this.dims === 1) return [key, 0];
    const iy = key % this.side;
    return [(key - iy) / this.side, iy];
  }

  /** Lattice step (in finest units) between neighbours at `level`. */
  step(level: number): number {
    return 2 ** (this.depth - level);
  }

  levelOf(key: number): number {
    const [ix, iy] = this.coords(key);
    for (let level = 0; level < this.depth; level++) {
      const s = this.step(level);
      if (ix % s === 0 && (this.dims === 1 || iy % s === 0)) return level;
    }
    return this.depth;
  }

  /** Position of a point in level-then-row-major order. */
  pointIndex(key: number): number {
    const [ix, iy] = this.coords(key);
    const level = this.levelOf(key);
    const s = this.step(level);
    const a = ix / s;
    const b = iy / s;
    if (level === 0) return this.dims === 1 ? a : a * (this.start + 1) + b;
    const offset = this.pointsThrough(level - 1);
    const n = this.cellsAt(level);
    if (this.dims === 1) return offset + (a - 1) / 2;
    const half = n / 2;
    const before = ((a + 1) >> 1) * half + (a >> 1) * (n + 1);
    return offset + before + (a % 2 === 0 ? (b - 1) / 2 : b);
  }

  /** Inverse of pointIndex. */
  keyOfPointIndex(p: number): number {
    if (!Number.isSafeInteger(p) || p < 0 || p >= this.side ** this.dims) throw new RangeError(`point ${p} is outside the lattice`);
    const s0 = this.step(0);
    if (p < this.pointsThrough(0)) {
      if (this.dims === 1) return p * s0;
      const b = p % (this.start + 1);
      return this.key(((p - b) / (this.start + 1)) * s0, b * s0);
    }
    let level = 1;
    while (p >= this.pointsThrough(level)) level++;
    const r = p - this.pointsThrough(level - 1);
    const s = this.step(level);
    const n = this.cellsAt(level);
    if (this.dims === 1) return (2 * r + 1) * s;
    const half = n / 2;
    const m = half + n + 1;
    const pair = Math.floor(r / m);
    const rem = r - pair * m;
    return rem < half ? this.key(2 * pair * s, (2 * rem + 1) * s) : this.key((2 * pair + 1) * s, (rem - half) * s);
  }

  runIndex(key: number, f = 0): number {
    return this.pointIndex(key) * this.fixed + f;
  }

  /** The point (lattice key) and fixed-axes combination of run `index`. */
  runPoint(index: number): { key: number; f: number } {
    const f = index % this.fixed;
    return { key: this.keyOfPointIndex((index - f) / this.fixed), f };
  }

  /** Keys of the starting grid, in run order. */
  startKeys(): number[] {
    const out: number[] = [];
    for (let p = 0; p < this.pointsThrough(0); p++) out.push(this.keyOfPointIndex(p));
    return out;
  }
}

/** What the rule knows of a point: its value (side 0/1 or a metric), or null when unknown (failed runs). */
export type PointValues = Map<number, number | null>;

export interface Cell {
  /** Lower corner, finest-lattice units. */
  ix: number;
  iy: number;
  /** Edge length, finest-lattice units. */
  h: number;
  level: number;
}

/** Leaf cells of the implicit quadtree (a cell is split exactly when its centre point exists). */
export function leafCells(lat: RefineLattice, known: { has(key: number): boolean }): Cell[] {
  const out: Cell[] = [];
  const visit = (ix: number, iy: number, h: number, level: number): void => {
    if (h >= 2) {
      const c = lat.dims === 2 ? lat.key(ix + h / 2, iy + h / 2) : lat.key(ix + h / 2);
      if (known.has(c)) {
        const g = h / 2;
        visit(ix, iy, g, level + 1);
        visit(ix + g, iy, g, level + 1);
        if (lat.dims === 2) {
          visit(ix, iy + g, g, level + 1);
          visit(ix + g, iy + g, g, level + 1);
        }
        return;
      }
    }
    out.push({ ix, iy, h, level });
  };
  const s = lat.step(0);
  for (let a = 0; a < lat.start; a++) {
    if (lat.dims === 1) visit(a * s, 0, s, 0);
    else for (let b = 0; b < lat.start; b++) visit(a * s, b * s, s, 0);
  }
  return out;
}

/**
 * The points along a cell's boundary, counter-clockwise from its lower-left corner,
 * with the points finer neighbours added on its edges (hanging nodes) in order.
 */
export function boundaryKeys(lat: RefineLattice, cell: Cell, known: { has(key: number): boolean }): number[] {
  const { ix, iy, h } = cell;
  if (lat.dims === 1) return [lat.key(ix), lat.key(ix + h)];
  const corners = [lat.key(ix, iy), lat.key(ix + h, iy), lat.key(ix + h, iy + h), lat.key(ix, iy + h)];
  const out: number[] = [];
  // Keys are linear in the coordinates, so an edge's midpoint is the mean of its ends' keys.
  const along = (a: number, b: number, len: number): void => {
    if (len < 2) return;
    const m = (a + b) / 2;
    if (!known.has(m)) return; // finer points on this stretch exist only below an existing midpoint
    along(a, m, len / 2);
    out.push(m);
    along(m, b, len / 2);
  };
  for (let e = 0; e < 4; e++) {
    out.push(corners[e]);
    along(corners[e], corners[(e + 1) % 4], h);
  }
  return out;
}

/** True when the values around a cell disagree: both sides present, or a spread above the tolerance. */
export function disagrees(values: (number | null | undefined)[], kind: RuleKind, tolerance = 0): boolean {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v === null || v === undefined || Number.isNaN(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (hi < lo) return false;
  return kind === 'side' ? hi !== lo : hi - lo > tolerance;
}

/** The points a split of `cell` adds (edge midpoints and centre; in 1-d the midpoint). */
export function splitPoints(lat: RefineLattice, cell: Cell): number[] {
  const g = cell.h / 2;
  const { ix, iy, h } = cell;
  if (lat.dims === 1) return [lat.key(ix + g)];
  return [lat.key(ix + g, iy), lat.key(ix + h, iy + g), lat.key(ix + g, iy + h), lat.key(ix, iy + g), lat.key(ix + g, iy + g)];
}

export interface StagePlan {
  /** New points, ascending by run index. */
  keys: number[];
  /** Cells split. */
  cells: number;
  /** Cells that asked to be split (at most `cells` of them fitted the budget). */
  candidates: number;
  /** The budget cut the stage short: no later stage can add anything. */
  truncated: boolean;
}

/** Spreads a cut by the budget along the boundary instead of favouring one end (bit-reversed order). */
function scramble(x: number): number {
  let r = 0;
  for (let i = 0; i < 20; i++) {
    r = (r << 1) | (x & 1);
    x >>>= 1;
  }
  return r >>> 0;
}

/**
 * One refinement stage: every leaf cell above the finest level whose values disagree
 * (corners and hanging nodes on its edges; unknown points ignored) is split, adding
 * its new points once each (points shared with a neighbour or already computed are
 * not added again). When the new points do not all fit in `maxNewPoints`, whole cells
 * are taken coarsest first, in a scrambled order along the lattice, while they fit.
 */
export function planStage(lat: RefineLattice, values: PointValues, kind: RuleKind, tolerance: number, maxNewPoints: number): StagePlan {
  const candidates: Cell[] = [];
  for (const cell of leafCells(lat, values)) {
    if (cell.level >= lat.depth) continue;
    const around = boundaryKeys(lat, cell, values).map((k) => values.get(k));
    if (disagrees(around, kind, tolerance)) candidates.push(cell);
  }
  const fresh = new Set<number>();
  let cells = 0;
  let truncated = false;
  const all = new Set<number>();
  for (const c of candidates) for (const k of splitPoints(lat, c)) if (!values.has(k)) all.add(k);
  if (all.size <= maxNewPoints) {
    for (const k of all) fresh.add(k);
    cells = candidates.length;
  } else {
    truncated = true;
    const order = candidates
      .map((c) => ({ c, o: scramble(lat.key(c.ix / c.h, c.iy / c.h)) }))
      .sort((a, b) => a.c.level - b.c.level || a.o - b.o);
    for (const { c } of order) {
      const add = splitPoints(lat, c).filter((k) => !values.has(k) && !fresh.has(k));
      if (fresh.size + add.length > maxNewPoints) continue;
      for (const k of add) fresh.add(k);
      cells++;
    }
  }
  const keys = [...fresh].map((k) => [lat.pointIndex(k), k]).sort((a, b) => a[0] - b[0]).map((x) => x[1]);
  return { keys, cells, candidates: candidates.length, truncated };
}

/**
 * Every point the stage-by-stage rule adds, with its stage, when nothing bounds it:
 * planStage(…, Infinity) applied stage after stage from the starting grid, each point
 * valued by `value` (null: unknown). The same result, but each stage looks only at the
 * cells whose surroundings changed in the previous one (the children of split cells,
 * and the leaves across an edge that gained a midpoint): a leaf that did not disagree
 * keeps not disagreeing until a point appears on its boundary, and points only appear
 * where a cell splits.
 */
export function replayStages(lat: RefineLattice, value: (key: number) => number | null, kind: RuleKind, tolerance: number): Map<number, number> {
  const stages = new Map<number, number>();
  const values: PointValues = new Map();
  const add = (k: number, stage: number): boolean => {
    if (stages.has(k)) return false;
    stages.set(k, stage);
    values.set(k, value(k));
    return true;
  };
  const s0 = lat.step(0);
  let check: Cell[] = [];
  for (const k of lat.startKeys()) add(k, 0);
  for (let a = 0; a < lat.start; a++) {
    if (lat.dims === 1) check.push({ ix: a * s0, iy: 0, h: s0, level: 0 });
    else for (let b = 0; b < lat.start; b++) check.push({ ix: a * s0, iy: b * s0, h: s0, level: 0 });
  }
  const centre = (c: Cell): number => (lat.dims === 2 ? lat.key(c.ix + c.h / 2, c.iy + c.h / 2) : lat.key(c.ix + c.h / 2));
  // The leaf holding the lower-left corner of the region (x, y, h), or the cell of size h there when that one is split.
  const leafAt = (x: number, y: number, h: number): Cell => {
    let c: Cell = { ix: Math.floor(x / s0) * s0, iy: Math.floor(y / s0) * s0, h: s0, level: 0 };
    while (c.h > h && values.has(centre(c))) {
      const g = c.h / 2;
      c = { ix: x >= c.ix + g ? c.ix + g : c.ix, iy: y >= c.iy + g ? c.iy + g : c.iy, h: g, level: c.level + 1 };
    }
    return c;
  };
  for (let stage = 0; check.length; stage++) {
    const split: Cell[] = [];
    const seen = new Set<number>();
    for (const c of check) {
      const id = lat.key(c.ix, c.iy) * 32 + c.level;
      if (seen.has(id)) continue;
      seen.add(id);
      if (c.level >= lat.depth || values.has(centre(c))) continue;
      if (disagrees(boundaryKeys(lat, c, values).map((k) => values.get(k)), kind, tolerance)) split.push(c);
    }
    const edges: [Cell, number][] = [];
    for (const c of split) {
      const pts = splitPoints(lat, c);
      for (let e = 0; e < pts.length; e++) if (add(pts[e], stage + 1) && lat.dims === 2 && e < 4) edges.push([c, e]);
    }
    check = [];
    for (const c of split) {
      const g = c.h / 2;
      const level = c.level + 1;
      check.push({ ix: c.ix, iy: c.iy, h: g, level }, { ix: c.ix + g, iy: c.iy, h: g, level });
      if (lat.dims === 2) check.push({ ix: c.ix, iy: c.iy + g, h: g, level }, { ix: c.ix + g, iy: c.iy + g, h: g, level });
    }
    // splitPoints order: bottom, right, top, left edge midpoints; the cell across that edge.
    for (const [c, e] of edges) {
      const [x, y] = e === 0 ? [c.ix, c.iy - c.h] : e === 1 ? [c.ix + c.h, c.iy] : e === 2 ? [c.ix, c.iy + c.h] : [c.ix - c.h, c.iy];
      if (x < 0 || y < 0 || x >= lat.finest || y >= lat.finest) continue;
      check.push(leafAt(x, y, c.h));
    }
  }
  return stages;
}
