// `sweep paper`: run the paper kit (examples/paper: one sweep spec per experiment of
// Falahati et al., plus the published numbers) through the service, or in-process with
// --in-process, and write a report directory whose verdicts are computed from the results.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { ApiClient, addApiOptions, runApiCommand, type ApiFlags } from '../api-client.ts';
import { EXIT_FAILURE, EXIT_OK } from '../exit-codes.ts';
import { InputError } from '../read-input.ts';
import type { KitResults } from '../paper/types.ts';
import { parseInterval } from './submit.ts';

interface PaperFlags extends ApiFlags {
  kit?: string;
  out: string;
  inProcess?: boolean;
  only?: string;
  from?: string;
  interval: number;
}

/** examples/paper in the working directory, else in the repository this CLI belongs to. */
export function defaultKitDir(): string {
  const here = resolve('examples/paper');
  if (existsSync(join(here, 'published.json'))) return here;
  return join(dirname(fileURLToPath(import.meta.url)), '../../../../examples/paper');
}

export async function runPaper(flags: PaperFlags): Promise<number> {
  // Loaded when the command runs, so `sweep --help` and the other commands skip the
  // core, the sweep compiler and the plots.
  const [{ loadKit, runInProcess, runThroughService }, { buildReport }, { writeReportDir }] = await Promise.all([
    import('../paper/kit.ts'), import('../paper/report.ts'), import('../paper/write.ts'),
  ]);
  const kitDir = flags.kit ?? defaultKitDir();
  const only = flags.only ? flags.only.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  const kit = loadKit(kitDir, only);
  const say = (line: string) => process.stderr.write(`paper: ${line}\n`);
  let results: KitResults;
  if (flags.from) {
    try {
      results = JSON.parse(readFileSync(flags.from, 'utf8')) as KitResults;
    } catch (err) {
      throw new InputError(`cannot read ${flags.from}: ${(err as Error).message}`);
    }
  } else if (flags.inProcess) {
    say(`running ${kit.specs.length} experiments (${kit.specs.reduce((a, s) => a + s.total, 0)} runs) in-process`);
    results = runInProcess(kit, say);
  } else {
    const client = ApiClient.fromFlags(flags);
    say(`submitting ${kit.specs.length} experiments (${kit.specs.reduce((a, s) => a + s.total, 0)} runs) to ${client.base}`);
    results = await runThroughService(client, kit, { pollMs: flags.interval, progress: say });
  }
  const report = buildReport(kit.published, results);
  const files = writeReportDir(flags.out, report, results);
  const tally = (xs: { verdict: string }[]) => [...new Set(xs.map((x) => x.verdict))].map((v) => `${xs.filter((x) => x.verdict === v).length} ${v}`).join(', ');
  say(`published values: ${tally(report.values) || 'none compared'}; stated results: ${tally(report.claims) || 'none checked'}`);
  say(`${results.experiments.reduce((a, e) => a + e.runs.length, 0)} runs, ${results.wallSeconds.toFixed(1)} s; report in ${join(flags.out, 'report.md')} (${files.length} files)`);
  process.stdout.write(`${join(flags.out, 'report.md')}\n`);
  const incomplete = results.experiments.filter((e) => e.status !== 'succeeded');
  if (incomplete.length) {
    say(`not every sweep succeeded: ${incomplete.map((e) => `${e.id} ${e.status}`).join(', ')}`);
    return EXIT_FAILURE;
  }
  return EXIT_OK;
}

export function registerPaper(program: Command): void {
  const cmd = program
    .command('paper')
    .description('reproduce the paper (Falahati et al.): run the kit in examples/paper and write a report with computed verdicts')
    .option('--in-process', 'run every configuration with the core in this process (no service needed)')
    .option('-o, --out <dir>', 'report directory: report.md, SVG figures, results.json', 'paper-report')
    .option('--kit <dir>', 'kit directory: sweep specs and published.json (default: examples/paper)')
    .option('--only <ids>', 'only these experiments (spec file names without extension, comma-separated)')
    .option('--from <results.json>', 'rebuild the report from the results.json of an earlier report, running nothing')
    .option('--interval <ms>', 'polling period while following the sweeps', parseInterval, 1000);
  addApiOptions(cmd).action(async (flags: PaperFlags) => {
    await runApiCommand(() => runPaper(flags));
  });
}
