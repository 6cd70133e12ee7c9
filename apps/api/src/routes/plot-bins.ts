// A phase diagram of more cells than its plot can show apart: adjacent values of an axis
// merged into bins, their groups' aggregates combined, so what is drawn (and sent, parsed
// and laid out by the browser) is bounded whatever the grid (a 1000 x 1000 sweep).
import { formatCategory, type Category, type HeatmapCell } from '@curation/plots';
import type { StatsGroup } from '@curation/db';

/** Cells per axis at most: a default 720 px plot gives each about 3 px. */
export const MAX_AXIS_CELLS = 200;

export type BinnedAggregate = 'mean' | 'median' | 'min' | 'max' | 'count' | 'std' | 'meanSquare' | 'rms';

export interface BinnedGrid {
  xValues: Category[];
  yValues: Category[];
  cells: HeatmapCell[];
  /** Grid values per bin along x and y (1: not binned). */
  xPer: number;
  yPer: number;
}

interface Acc {
  x: Category;
  y: Category;
  n: number;
  count: number;
  sum: number;
  sumSquares: number;
  min: number | null;
  max: number | null;
  medians: number[];
  firstRunId: string | null;
  runId: string | null;
  groups: number;
}

const lowerId = (a: string | null, b: string): string =>
  a === null || b.length < a.length || (b.length === a.length && b < a) ? b : a;

/** Bins of `per` adjacent values: the label names the first and last value of each. */
function binsOf(values: Category[], per: number): { labels: Category[]; binOf: Map<string, number> } {
  const binOf = new Map<string, number>();
  const labels: Category[] = [];
  for (let i = 0; i < values.length; i += per) {
    const part = values.slice(i, i + per);
    labels.push(part.length === 1 ? part[0] : `${formatCategory(part[0])}..${formatCategory(part[part.length - 1])}`);
    for (const v of part) binOf.set(`${typeof v}:${v}`, labels.length - 1);
  }
  return { labels, binOf };
}

function value(a: Acc, agg: BinnedAggregate): number | null {
  if (agg === 'count') return a.count;
  if (a.count === 0) return null;
  const mean = a.sum / a.count;
  const meanSquare = a.sumSquares / a.count;
  switch (agg) {
    case 'mean': return mean;
    case 'min': return a.min;
    case 'max': return a.max;
    case 'meanSquare': return meanSquare;
    case 'rms': return Math.sqrt(meanSquare);
    // Exact from the sums of the values and of their squares (sample sd, n - 1).
    case 'std': return a.count < 2 ? null : Math.sqrt(Math.max(0, (a.sumSquares - (a.sum * a.sum) / a.count) / (a.count - 1)));
    // Medians do not combine: the median of the groups' medians (the title says so).
    case 'median': {
      if (!a.medians.length) return null;
      const m = [...a.medians].sort((p, q) => p - q);
      const h = m.length >> 1;
      return m.length % 2 ? m[h] : (m[h - 1] + m[h]) / 2;
    }
  }
}

/**
 * The cells of a heatmap of `groups` over x and y (in the display order given), binned
 * when an axis has more than `max` values; one cell per group otherwise.
 */
export function binnedGrid(
  groups: StatsGroup[], o: { x: string; y: string; z: string; agg: BinnedAggregate; xValues: Category[]; yValues: Category[]; category: (v: unknown) => Category; max?: number },
): BinnedGrid {
  const max = o.max ?? MAX_AXIS_CELLS;
  const xPer = Math.ceil(o.xValues.length / max) || 1;
  const yPer = Math.ceil(o.yValues.length / max) || 1;
  const xb = binsOf(o.xValues, xPer);
  const yb = binsOf(o.yValues, yPer);
  const accs = new Map<number, Acc>();
  for (const g of groups) {
    const xv = o.category(g.key[o.x]);
    const yv = o.category(g.key[o.y]);
    const xi = xb.binOf.get(`${typeof xv}:${xv}`);
    const yi = yb.binOf.get(`${typeof yv}:${yv}`);
    if (xi === undefined || yi === undefined) continue;
    const k = xi * yb.labels.length + yi;
    let a = accs.get(k);
    if (!a) {
      a = { x: xb.labels[xi], y: yb.labels[yi], n: 0, count: 0, sum: 0, sumSquares: 0, min: null, max: null, medians: [], firstRunId: null, runId: g.runId, groups: 0 };
      accs.set(k, a);
    }
    a.groups += 1;
    a.n += g.n;
    a.firstRunId = lowerId(a.firstRunId, g.firstRunId);
    const m = g.metrics[o.z];
    if (m && m.count > 0 && m.mean !== null) {
      a.count += m.count;
      a.sum += m.count * m.mean;
      a.sumSquares += m.count * (m.meanSquare ?? m.mean * m.mean);
      if (m.min !== null) a.min = a.min === null ? m.min : Math.min(a.min, m.min);
      if (m.max !== null) a.max = a.max === null ? m.max : Math.max(a.max, m.max);
      if (m.median !== null) a.medians.push(m.median);
    }
  }
  const cells: HeatmapCell[] = [...accs.values()].map((a) => ({
    x: a.x,
    y: a.y,
    value: value(a, o.agg),
    count: a.n,
    // A cell of one run links to it, as without bins.
    ...(a.groups === 1 && a.runId ? { runId: a.runId } : {}),
    ...(a.firstRunId !== null ? { firstRunId: a.firstRunId } : {}),
  }));
  return { xValues: xb.labels, yValues: yb.labels, cells, xPer, yPer };
}
