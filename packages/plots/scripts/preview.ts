// Renders the example plots to /tmp/plots-preview/*.svg, and to PNG when /usr/bin/chromium exists.
//   npx tsx packages/plots/scripts/preview.ts
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { heatmapSvg, linePlotSvg, trajectoryPlotSvg } from '../src/index.ts';
import { exampleHeatmap, exampleLinePlot, exampleLogPlot, exampleTrajectory } from '../test/examples.ts';

const dir = process.argv[2] ?? '/tmp/plots-preview';
mkdirSync(dir, { recursive: true });
const plots: Record<string, string> = {
  heatmap: heatmapSvg(exampleHeatmap()),
  line: linePlotSvg(exampleLinePlot()),
  'line-log': linePlotSvg(exampleLogPlot()),
  trajectory: trajectoryPlotSvg(exampleTrajectory()),
};
for (const [name, svg] of Object.entries(plots)) {
  const file = `${dir}/${name}.svg`;
  writeFileSync(file, svg);
  if (existsSync('/usr/bin/chromium')) {
    execFileSync(
      '/usr/bin/chromium',
      ['--headless', '--no-sandbox', '--disable-gpu', `--screenshot=${dir}/${name}.png`, '--window-size=720,480', `file://${file}`],
      { stdio: 'ignore', timeout: 60_000 },
    );
  }
  console.log(file);
}
