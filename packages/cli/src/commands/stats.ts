// `sweep stats ID --group-by q,D --metric summary.basinShare.0` : aggregates as an aligned table,
// under a line that says which contract and core version computed them.
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { ApiClient, addApiOptions, runApiCommand, type ApiFlags, type MetricStats, type StatsReply } from '../api-client.ts';
import { formatTable, provenanceText } from '../format.ts';

interface StatsFlags extends ApiFlags {
  groupBy: string[];
  metric: string[];
  where: string[];
  columns: StatColumn[];
  contract?: number;
  json?: boolean;
}

export const STAT_COLUMNS = ['count', 'mean', 'std', 'min', 'p10', 'median', 'p90', 'max', 'meanSquare', 'rms'] as const;
type StatColumn = (typeof STAT_COLUMNS)[number];
const DEFAULT_COLUMNS: StatColumn[] = ['mean', 'std', 'min', 'median', 'max'];
const RATES = ['collapsedRate', 'convergedRate', 'inIntervalRate', 'meanConvergedAt'] as const;

/** Comma-separated and repeatable: `--group-by q,D` or `--group-by q --group-by D`. */
export const collectList = (value: string, previous: string[] = []) =>
  [...previous, ...value.split(',').map((s) => s.trim()).filter(Boolean)];

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `nashGap` is short for `summary.nashGap`; the table shows the one name, `summary.nashGap`. */
const metricName = (m: string) => (m.startsWith('summary.') ? m : `summary.${m}`);

function parseColumns(value: string): StatColumn[] {
  if (value === 'all') return [...STAT_COLUMNS];
  const cols = collectList(value);
  const bad = cols.filter((c) => !(STAT_COLUMNS as readonly string[]).includes(c));
  if (bad.length || !cols.length) throw new InvalidArgumentError(`must be "all" or a comma-separated list of ${STAT_COLUMNS.join(', ')}`);
  return cols as StatColumn[];
}

/** The table: group-by columns, n, then `<stat>(<metric>)` per metric (the metric's full name), then the rates that are known. */
export function statsTable(stats: StatsReply, columns: StatColumn[] = DEFAULT_COLUMNS): string {
  const groupBy = stats.groupBy ?? [];
  const metrics = stats.metrics ?? [];
  const rates = RATES.filter((r) => stats.groups.some((g) => g[r] !== null && g[r] !== undefined));
  const header = [
    ...groupBy,
    'n',
    ...metrics.flatMap((m) => columns.map((c) => `${c}(${m})`)),
    ...rates,
  ];
  const rows = stats.groups.map((g) => [
    ...groupBy.map((v) => g.key?.[v]),
    g.n,
    ...metrics.flatMap((m) => {
      const ms: Partial<MetricStats> = (g.metrics && Object.hasOwn(g.metrics, m) ? g.metrics[m] : undefined) ?? {};
      return columns.map((c) => ms[c]);
    }),
    ...rates.map((r) => g[r]),
  ]);
  return formatTable(header, rows);
}

export async function runStats(id: string, flags: StatsFlags): Promise<number> {
  const client = ApiClient.fromFlags(flags);
  const query: Record<string, string | undefined> = {
    groupBy: flags.groupBy.length ? flags.groupBy.join(',') : undefined,
    metrics: flags.metric.length ? flags.metric.map(metricName).join(',') : undefined,
    where: flags.where.length ? flags.where.join(';') : undefined,
    contract: flags.contract === undefined ? undefined : String(flags.contract),
  };
  const stats = await client.get<StatsReply>(`/sweeps/${encodeURIComponent(id)}/stats`, query);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(stats, null, 2)}\n`);
    return 0;
  }
  if (stats.groups.length === 0) {
    process.stderr.write(`no succeeded runs match${stats.contract != null ? ` in contract ${stats.contract}` : ''}${otherNote(stats)}\n`);
    return 0;
  }
  // Results of one contract only: say which, before the numbers.
  process.stdout.write(`${provenanceText(stats)}\n`);
  process.stdout.write(statsTable(stats, flags.columns));
  return 0;
}

const otherNote = (s: StatsReply) =>
  s.otherContracts?.length ? ` (${s.otherContracts.map((o) => `${o.runs} of contract ${o.contract}: --contract ${o.contract}`).join(', ')})` : '';

function parseContract(value: string): number {
  const v = Number(value);
  if (!Number.isInteger(v) || v < 1) throw new InvalidArgumentError('must be a positive integer');
  return v;
}

export function registerStats(program: Command): void {
  const cmd = program
    .command('stats')
    .description("aggregates of a sweep's succeeded runs, grouped by axis variables, as an aligned table")
    .argument('<id>', 'sweep id')
    .option('-g, --group-by <vars>', 'axis variables to group by, comma-separated or repeated (none: one group)', collectList, [])
    .option('-m, --metric <field>', 'summary field (summary. may be left out), comma-separated or repeated; default basinShare.0 and nashGap', collectList, [])
    .option('-w, --where <filter>', 'filter such as q>=0.3 or summary.collapsed=false; repeat to combine', collect, [])
    .option('--columns <stats>', `per-metric columns: "all" or some of ${STAT_COLUMNS.join(',')}`, parseColumns, DEFAULT_COLUMNS)
    .option('--contract <n>', 'aggregate the results of this model contract (default: the newest the sweep has)', parseContract)
    .option('--json', 'print the API reply as JSON');
  addApiOptions(cmd).action(async (id: string, flags: StatsFlags) => {
    await runApiCommand(() => runStats(id, flags));
  });
}
