// `sweep plot ID --x q --y D --z summary.basinShare.0 -o FILE.svg` : an SVG plot rendered by the API.
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { ApiClient, addApiOptions, runApiCommand, type ApiFlags } from '../api-client.ts';
import { saveBody } from '../download.ts';
import { InputError } from '../read-input.ts';

interface PlotFlags extends ApiFlags {
  x?: string;
  y?: string;
  z?: string;
  agg?: string;
  series?: string;
  logY?: boolean;
  width?: number;
  height?: number;
  where: string[];
  contract?: number;
  param: string[];
  run?: boolean;
  output?: string;
}

function parsePixels(value: string): number {
  const v = Number(value);
  if (!Number.isInteger(v) || v < 200 || v > 4000) throw new InvalidArgumentError('must be an integer from 200 to 4000');
  return v;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function parseContract(value: string): number {
  const v = Number(value);
  if (!Number.isInteger(v) || v < 1) throw new InvalidArgumentError('must be a positive integer');
  return v;
}

/** `--param key=value` pairs, for plot options this command has no flag for. */
export function extraParams(pairs: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new InputError(`--param ${JSON.stringify(p)} is not key=value`);
    (out[p.slice(0, eq)] ??= []).push(p.slice(eq + 1));
  }
  return out;
}

export async function runPlot(id: string, flags: PlotFlags): Promise<number> {
  const client = ApiClient.fromFlags(flags);
  const path = flags.run ? `/runs/${encodeURIComponent(id)}/plot.svg` : `/sweeps/${encodeURIComponent(id)}/plot.svg`;
  const query = {
    x: flags.x, y: flags.y, z: flags.z, agg: flags.agg, series: flags.series,
    logY: flags.logY ? '1' : undefined, width: flags.width, height: flags.height,
    where: flags.where.length ? flags.where.join(';') : undefined,
    contract: flags.contract,
    ...extraParams(flags.param),
  };
  const res = await client.fetch('GET', path, { query, headers: { accept: 'image/svg+xml' }, stream: true });
  const output = flags.output === '-' ? undefined : flags.output;
  const r = await saveBody(res, output, client.base);
  if (r.file) process.stderr.write(`wrote ${r.file} (${r.bytes} bytes)\n`);
  return 0;
}

export function registerPlot(program: Command): void {
  const cmd = program
    .command('plot')
    .description('an SVG plot of a sweep (heatmap of z over x and y, or z against x as lines) or, with --run, of one run\'s trajectory')
    .argument('<id>', 'sweep id (run id with --run)')
    .option('--x <var>', 'axis variable on the horizontal axis')
    .option('--y <var>', 'axis variable on the vertical axis: a heatmap (phase diagram); without it, a line plot')
    .option('--z <field>', 'the summary field plotted (API default summary.basinShare.0)')
    .option('--agg <agg>', 'aggregate over the runs of a cell or point (mean, median, min, max, count, std, meanSquare, rms; default mean)')
    .option('--series <var>', 'line plot (no --y): one line per value of this axis variable')
    .option('--log-y', 'line plot: logarithmic y axis')
    .option('--width <px>', 'image width in pixels (200-4000)', parsePixels)
    .option('--height <px>', 'image height in pixels (200-4000)', parsePixels)
    .option('-w, --where <filter>', 'filter such as q>=0.3; repeat to combine', collect, [])
    .option('--contract <n>', 'plot the results of this model contract (default: the newest; the title says which)', parseContract)
    .option('--param <key=value>', 'any other query parameter of the plot endpoint; repeatable', collect, [])
    .option('--run', 'ID is a run id: plot that run\'s trajectory')
    .option('-o, --output <file>', 'write the SVG here instead of stdout');
  addApiOptions(cmd).action(async (id: string, flags: PlotFlags) => {
    await runApiCommand(() => runPlot(id, flags));
  });
}
