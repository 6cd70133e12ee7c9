// Example inputs shared by the tests and the preview script.

import type { HeatmapInput, LinePlotInput, TrajectoryPlotInput } from '../src/index.ts';

export function exampleHeatmap(): HeatmapInput {
  const xValues = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
  const yValues = [1, 1.5, 2, 2.5, 3, 3.5, 4];
  const cells: HeatmapInput['cells'] = [];
  for (const x of xValues) {
    for (const y of yValues) {
      const value = x === 0.5 && y === 2.5 ? null : 1 / (1 + Math.exp(-(x - 0.5) * 4 * y));
      cells.push({ x, y, value, count: value === null ? 0 : 5, runId: `run-${x}-${y}` });
    }
  }
  return {
    title: 'mean of summary.basinShare.0 over seeds',
    xLabel: 'q (mixture weight)',
    yLabel: 'D (distance between the optima)',
    zLabel: 'share of basin 1',
    xValues,
    yValues,
    cells,
    cellHref: (c) => (c.runId ? `/runs/${encodeURIComponent(c.runId)}` : undefined),
  };
}

export function exampleLinePlot(): LinePlotInput {
  return {
    title: 'final entropy against q (mean \u00b1 sd over 5 seeds)',
    xLabel: 'q',
    yLabel: 'entropy (nats)',
    series: [2, 4, 8].map((K, si) => ({
      name: `K = ${K}`,
      points: Array.from({ length: 11 }, (_, i) => {
        const x = i / 10;
        const y = 2.5 * Math.exp((-x * K) / 2) + 0.3;
        const sd = 0.08 + 0.04 * si;
        return { x, y, yLow: y - sd, yHigh: y + sd, count: 5 };
      }),
    })),
  };
}

export function exampleLogPlot(): LinePlotInput {
  return {
    title: 'Nash gap against beta',
    xLabel: 'beta',
    yLabel: 'Nash gap',
    logY: true,
    series: ['K = 2', 'K = 16'].map((name, s) => ({
      name,
      points: Array.from({ length: 13 }, (_, i) => ({ x: i * 0.5, y: i === 6 && s === 0 ? null : 10 ** (-(i * (0.6 + s * 0.3))) })),
    })),
  };
}

export function exampleTrajectory(): TrajectoryPlotInput {
  const rows: TrajectoryPlotInput['rows'] = [];
  for (let t = 0; t <= 300; t += 10) {
    const f = 1 - Math.exp(-t / 40);
    const m1 = 0.25 + 0.6 * f;
    const m2 = 0.25 * Math.exp(-t / 80);
    rows.push({
      t,
      entropy: 3.2 * Math.exp(-t / 60) + 0.4,
      mass: [m1, m2],
      outside: Math.max(0, 1 - m1 - m2),
      step: t === 0 ? null : 0.15 * Math.exp(-t / 25),
    });
  }
  return { title: 'run 17: q = 0.3, D = 2, K = 8, beta = 4', rows, basinNames: ['left optimum', 'right optimum'] };
}
