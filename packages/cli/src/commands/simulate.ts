// `sweep simulate CONFIG` : run one configuration locally and print section 7's JSON.
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { DEFAULT_MAX_COST_SECONDS } from '@curation/core/cost';
import { readInput, InputError } from '../read-input.ts';
import { EXIT_USAGE } from '../exit-codes.ts';

interface SimulateFlags {
  dist?: boolean;
  maxCost: number;
  pretty?: boolean;
}

function parseSeconds(value: string): number {
  const v = Number(value);
  if (!(v > 0)) throw new InvalidArgumentError('must be a positive number of seconds');
  return v;
}

export async function runSimulate(source: string, flags: SimulateFlags): Promise<number> {
  // The core's compute modules only, loaded when the command runs: not its TypeBox
  // schema (the API's), whose hundreds of modules would double the start-up time.
  const [{ validateConfig }, { formatIssues }, { runNormalized }] = await Promise.all([
    import('@curation/core/validate'), import('@curation/core/issues'), import('@curation/core/simulate'),
  ]);
  let input: unknown;
  try {
    input = (await readInput(source)).value;
  } catch (err) {
    if (err instanceof InputError) {
      process.stderr.write(`error: ${err.message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
  const v = validateConfig(input, { maxCostSeconds: flags.maxCost });
  if (!v.ok) {
    const lines = formatIssues(v.issues).split('\n').map((l) => `error: ${l}`);
    process.stderr.write(`${lines.join('\n')}\n`);
    return EXIT_USAGE;
  }
  const out = runNormalized(v.config, { includeDistribution: flags.dist === true });
  process.stdout.write(`${JSON.stringify(out, null, flags.pretty ? 2 : undefined)}\n`);
  return 0;
}

export function registerSimulate(program: Command): void {
  program
    .command('simulate')
    .description('run one configuration (JSON or YAML file, or - for stdin) and print its result as JSON')
    .argument('<config>', 'configuration file (.json, .yaml, .yml) or - for stdin')
    .option('--dist', 'include the final distribution p_T')
    .option('--max-cost <seconds>', 'refuse configurations estimated to need more CPU seconds', parseSeconds, DEFAULT_MAX_COST_SECONDS)
    .option('--pretty', 'indent the JSON output')
    .action(async (source: string, flags: SimulateFlags) => {
      process.exitCode = await runSimulate(source, flags);
    });
}
