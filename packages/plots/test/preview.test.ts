// Renders one example of each plot to /tmp/plots-preview (for looking at; not committed) and checks them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { heatmapSvg, linePlotSvg, trajectoryPlotSvg } from '../src/index.ts';
import { exampleHeatmap, exampleLinePlot, exampleLogPlot, exampleTrajectory } from './examples.ts';
import { checkSvg } from './util.ts';

describe('previews', () => {
  it('renders the examples to /tmp/plots-preview', () => {
    const dir = '/tmp/plots-preview';
    mkdirSync(dir, { recursive: true });
    const plots = {
      heatmap: heatmapSvg(exampleHeatmap()),
      line: linePlotSvg(exampleLinePlot()),
      'line-log': linePlotSvg(exampleLogPlot()),
      trajectory: trajectoryPlotSvg(exampleTrajectory()),
    };
    for (const [name, svg] of Object.entries(plots)) {
      const root = checkSvg(svg);
      expect([root.attrs.width, root.attrs.height]).toEqual(['720', '480']);
      expect(svg.length).toBeLessThan(200_000);
      writeFileSync(`${dir}/${name}.svg`, svg);
    }
  });
});
