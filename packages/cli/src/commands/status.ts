// `sweep status ID` and `sweep list` : one sweep in detail, or a table of sweeps.
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { ApiClient, addApiOptions, runApiCommand, type ApiFlags, type StatsReply, type Sweep, type SweepPage } from '../api-client.ts';
import { contractOf, formatDuration, formatTable, provenanceText } from '../format.ts';
import { followSweep, progressText } from '../follow.ts';

interface StatusFlags extends ApiFlags { json?: boolean; follow?: boolean }
interface ListFlags extends ApiFlags { json?: boolean; limit: number; tag?: string; status?: string; cursor?: string }

const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];

/** Runs that ran (cancelled ones did not), as progressText counts them. */
const done = (s: Sweep) => s.counts.succeeded + s.counts.failed;

/** `results`: which contract and core computed the stored results (from the stats reply), when known. */
export function describeSweep(s: Sweep, results?: string): string {
  const c = s.counts;
  const rows: [string, string][] = [
    ['id', s.id],
    ['name', s.name],
    ['status', s.status],
    ['tags', s.tags?.length ? s.tags.join(', ') : '-'],
    ['progress', progressText(s)],
    ['runs', `queued ${c.queued}, running ${c.running}, succeeded ${c.succeeded}, failed ${c.failed}, cancelled ${c.cancelled}`],
    ['created', s.createdAt],
    ['started', s.startedAt ?? '-'],
    ['finished', s.finishedAt ?? '-'],
    ['eta', formatDuration(s.etaSeconds)],
    ['core', s.coreVersion ? `contract ${contractOf(s.coreVersion)}, core ${s.coreVersion} (the API's, at submission)` : '-'],
    ...(results ? [['results', results] as [string, string]] : []),
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n';
}

export async function runStatus(id: string, flags: StatusFlags): Promise<number> {
  const client = ApiClient.fromFlags(flags);
  if (flags.follow) return followSweep(client, id);
  const sweep = await client.get<Sweep>(`/sweeps/${encodeURIComponent(id)}`);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(sweep, null, 2)}\n`);
    return 0;
  }
  // Which contract and core computed the results: the stats reply names them (no metrics: one cheap group).
  let results: string | undefined;
  if (sweep.counts.succeeded > 0) {
    const st = await client.get<StatsReply>(`/sweeps/${encodeURIComponent(sweep.id)}/stats`, { metrics: '' }).catch(() => null);
    if (st) results = provenanceText(st);
  }
  process.stdout.write(describeSweep(sweep, results));
  return 0;
}

export async function runList(flags: ListFlags): Promise<number> {
  const client = ApiClient.fromFlags(flags);
  const page = await client.get<SweepPage>('/sweeps', { limit: flags.limit, tag: flags.tag, status: flags.status, cursor: flags.cursor });
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(page, null, 2)}\n`);
    return 0;
  }
  if (page.items.length === 0) {
    process.stderr.write('no sweeps\n');
    return 0;
  }
  const header = ['id', 'name', 'status', 'done', 'total', 'failed', 'created'];
  const rows = page.items.map((s) => [s.id, s.name, s.status, done(s), s.counts.total, s.counts.failed, s.createdAt]);
  process.stdout.write(formatTable(header, rows));
  if (page.nextCursor) process.stderr.write(`more: sweep list --cursor ${page.nextCursor}\n`);
  return 0;
}

function parseLimit(value: string): number {
  const v = Number(value);
  if (!Number.isInteger(v) || v < 1 || v > 100) throw new InvalidArgumentError('must be an integer from 1 to 100');
  return v;
}

function parseStatus(value: string): string {
  if (!STATUSES.includes(value)) throw new InvalidArgumentError(`must be one of ${STATUSES.join(', ')}`);
  return value;
}

export function registerStatus(program: Command): void {
  const status = program
    .command('status')
    .description('show one sweep: status, counts, times, ETA')
    .argument('<id>', 'sweep id')
    .option('--json', 'print the API reply as JSON')
    .option('-f, --follow', 'show progress until the sweep ends (Ctrl-C detaches)');
  addApiOptions(status).action(async (id: string, flags: StatusFlags) => {
    await runApiCommand(() => runStatus(id, flags));
  });

  const list = program
    .command('list')
    .description('list sweeps, newest first')
    .option('--limit <n>', 'at most this many (1-100)', parseLimit, 20)
    .option('--tag <tag>', 'only sweeps with this tag')
    .option('--status <status>', `only sweeps in this state (${STATUSES.join(', ')})`, parseStatus)
    .option('--cursor <cursor>', 'the next page (printed after a full page)')
    .option('--json', 'print the API reply { items, nextCursor } as JSON');
  addApiOptions(list).action(async (flags: ListFlags) => {
    await runApiCommand(() => runList(flags));
  });
}
