// `sweep export ID --format csv|ndjson [-o FILE]` : every run of a sweep, streamed to a file or stdout.
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { ApiClient, addApiOptions, runApiCommand, type ApiFlags } from '../api-client.ts';
import { saveBody } from '../download.ts';
import { InputError } from '../read-input.ts';

interface ExportFlags extends ApiFlags {
  format?: 'csv' | 'ndjson';
  output?: string;
  status?: string;
  trajectory?: boolean;
}

const FORMATS = ['csv', 'ndjson'];

function parseFormat(value: string): 'csv' | 'ndjson' {
  if (!FORMATS.includes(value)) throw new InvalidArgumentError('must be csv or ndjson');
  return value as 'csv' | 'ndjson';
}

/** --format, else the output file's extension (.ndjson/.jsonl), else csv. */
export function exportFormat(flags: Pick<ExportFlags, 'format' | 'output'>): 'csv' | 'ndjson' {
  if (flags.format) return flags.format;
  if (flags.output && /\.(nd)?jsonl?$/i.test(flags.output)) return 'ndjson';
  return 'csv';
}

export async function runExport(id: string, flags: ExportFlags): Promise<number> {
  const client = ApiClient.fromFlags(flags);
  const format = exportFormat(flags);
  if (flags.trajectory && format !== 'ndjson') throw new InputError('--trajectory needs --format ndjson');
  const output = flags.output === '-' ? undefined : flags.output;
  const res = await client.fetch('GET', `/sweeps/${encodeURIComponent(id)}/runs.${format}`, {
    query: { status: flags.status, trajectory: flags.trajectory ? '1' : undefined },
    headers: { accept: format === 'csv' ? 'text/csv' : 'application/x-ndjson' },
    stream: true,
  });
  const r = await saveBody(res, output, client.base);
  if (r.file) process.stderr.write(`wrote ${r.file} (${r.bytes} bytes)\n`);
  return 0;
}

export function registerExport(program: Command): void {
  const cmd = program
    .command('export')
    .description('stream every run of a sweep (axis values and summary) as CSV or NDJSON')
    .argument('<id>', 'sweep id')
    .option('--format <format>', 'csv or ndjson (default: from the -o extension, else csv)', parseFormat)
    .option('-o, --output <file>', 'write here instead of stdout')
    .option('--status <status>', 'only runs in this state (queued, running, succeeded, failed, cancelled)')
    .option('--trajectory', 'NDJSON only: add each run\'s decoded trajectory');
  addApiOptions(cmd).action(async (id: string, flags: ExportFlags) => {
    await runApiCommand(() => runExport(id, flags));
  });
}
