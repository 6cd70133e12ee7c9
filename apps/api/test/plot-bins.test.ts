// A phase diagram of more values per axis than its plot can show: bins of adjacent values,
// their groups' aggregates combined exactly (median: the median of the groups' medians).
import { describe, expect, it } from 'vitest';
import type { StatsGroup } from '@curation/db';
import { binnedGrid, MAX_AXIS_CELLS } from '../src/routes/plot-bins.ts';

const category = (v: unknown) => v as number;

/** Groups of a 10 x 3 grid, each of a few values: its aggregates computed from the values. */
function grid() {
  const values = new Map<string, number[]>();
  const groups: StatsGroup[] = [];
  let id = 1000;
  for (let x = 0; x < 10; x++) for (let y = 0; y < 3; y++) {
    const vs = Array.from({ length: 2 + ((x + y) % 3) }, (_, i) => Math.sin(x * 7 + y * 3 + i) + x);
    values.set(`${x}|${y}`, vs);
    const n = vs.length;
    const mean = vs.reduce((a, b) => a + b, 0) / n;
    const sorted = [...vs].sort((a, b) => a - b);
    groups.push({
      key: { q: x, D: y }, n, runId: null, firstRunId: String(id--), contract: 2, coreVersions: ['2.0.0'],
      metrics: {
        z: {
          count: n, mean, std: Math.sqrt(vs.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)), min: sorted[0], max: sorted[n - 1],
          p10: null, median: n % 2 ? sorted[n >> 1] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2, p90: null,
          meanSquare: vs.reduce((a, v) => a + v * v, 0) / n, rms: null,
        },
      },
      collapsedRate: null, convergedRate: null, inIntervalRate: null, meanConvergedAt: null,
    } as StatsGroup);
  }
  return { groups, values };
}

const opts = { x: 'q', y: 'D', z: 'z', xValues: [...Array(10).keys()], yValues: [0, 1, 2], category, max: 4 };

describe('binnedGrid', () => {
  it('merges adjacent values of an axis with more than max of them, and says which', () => {
    const { groups } = grid();
    const g = binnedGrid(groups, { ...opts, agg: 'mean' });
    expect([g.xPer, g.yPer]).toEqual([3, 1]);
    expect(g.xValues).toEqual(['0..2', '3..5', '6..8', 9]);
    expect(g.yValues).toEqual([0, 1, 2]);
    expect(g.cells).toHaveLength(4 * 3);
    // The lowest run id of the bin, to show for it; no link (several groups).
    const first = g.cells.find((c) => c.x === '0..2' && c.y === 0)!;
    expect(Number(first.firstRunId)).toBe(Math.min(...groups.filter((x) => (x.key.q as number) <= 2 && x.key.D === 0).map((x) => Number(x.firstRunId))));
    expect(first.runId).toBeUndefined();
  });

  it('combines the aggregates as over the runs of the bin', () => {
    const { groups, values } = grid();
    const runsOf = (x0: number, x1: number, y: number) => [...Array(x1 - x0 + 1).keys()].flatMap((i) => values.get(`${x0 + i}|${y}`)!);
    const vs = runsOf(3, 5, 1);
    const n = vs.length;
    const mean = vs.reduce((a, b) => a + b, 0) / n;
    const expected = {
      mean, count: n, min: Math.min(...vs), max: Math.max(...vs),
      std: Math.sqrt(vs.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)),
      meanSquare: vs.reduce((a, v) => a + v * v, 0) / n,
      rms: Math.sqrt(vs.reduce((a, v) => a + v * v, 0) / n),
    };
    for (const [agg, want] of Object.entries(expected)) {
      const cell = binnedGrid(groups, { ...opts, agg: agg as keyof typeof expected }).cells.find((c) => c.x === '3..5' && c.y === 1)!;
      expect(cell.value, agg).toBeCloseTo(want, 12);
      expect(cell.count).toBe(n);
    }
    const medians = groups.filter((g) => (g.key.q as number) >= 3 && (g.key.q as number) <= 5 && g.key.D === 1).map((g) => g.metrics.z.median!).sort((a, b) => a - b);
    expect(binnedGrid(groups, { ...opts, agg: 'median' }).cells.find((c) => c.x === '3..5' && c.y === 1)!.value).toBe(medians[1]);
  });

  it('leaves a grid within max as it is, and bounds a large one', () => {
    const { groups } = grid();
    const g = binnedGrid(groups, { ...opts, agg: 'mean', max: 10 });
    expect([g.xPer, g.yPer, g.cells.length]).toEqual([1, 1, 30]);
    expect(g.cells.find((c) => c.x === 4 && c.y === 2)!.value).toBeCloseTo(groups.find((x) => x.key.q === 4 && x.key.D === 2)!.metrics.z.mean!, 12);
    // 1000 x 1000 values: at most MAX_AXIS_CELLS per axis.
    const xValues = [...Array(1000).keys()];
    const big = binnedGrid(
      xValues.flatMap((x) => [0, 1].map((y) => ({ ...groups[0], key: { q: x, D: y }, firstRunId: String(x * 2 + y + 1) }))),
      { ...opts, agg: 'mean', xValues, yValues: [0, 1], max: undefined },
    );
    expect(big.xValues.length).toBeLessThanOrEqual(MAX_AXIS_CELLS);
    expect(big.cells.length).toBe(big.xValues.length * 2);
  });
});
