// Aggregates over a sweep's results, computed in Postgres: one parameterised statement per
// request (stats-sql.ts), never the runs loaded into Node; this module runs it and shapes
// the reply.
//
//   sweepStats   GET /v1/sweeps/:id/stats  group the succeeded runs by axis variables
//   sweepsByTag  GET /v1/stats?tag=        one line per sweep carrying a tag
import type { Queryable } from './queryable.ts';
import type { Filter } from './stats-filter.ts';
import { checkContract, checkGroupBy, checkMetrics } from './stats-filter.ts';
import { buildStatsQuery, buildTagStatsQuery, buildTagSweepsQuery, canSplit, rangeRows, runStatsAnswers, type StatsQueryInput } from './stats-sql.ts';
import { indexKeys, statsCacheSettings, statsParallelSettings, statsRangeSettings, replyCache, resultsState, shared, statsQueriesShared, statsQuery, type IndexKey } from './stats-plan.ts';
import { sweepMeta } from './sweep-meta.ts';
import { ALL_SWEEPS, visibleTeam, type Visibility } from './sweeps.ts';

export { statsCacheSettings, statsParallelSettings, statsRangeSettings };

// ------------------------------------------------------------------ sweepStats

export interface StatsOptions extends StatsQueryInput {
  /**
   * Aggregate the results of this contract only; default the newest contract among the
   * sweep's succeeded runs. Runs of other contracts are counted in `otherContracts`.
   */
  contract?: number;
  /** Whose sweeps count (default: every sweep; the API always passes the caller's). */
  visibility?: Visibility;
  /** A page of the groups: at most `limit` (default all) after skipping `offset`. */
  limit?: number;
  offset?: number;
}

export interface MetricStats {
  /** Runs of the group where the metric is not null. */
  count: number;
  mean: number | null;
  /** Sample standard deviation (n - 1); null below 2 values. */
  std: number | null;
  min: number | null;
  /** Percentiles with linear interpolation (percentile_cont). */
  p10: number | null;
  median: number | null;
  p90: number | null;
  max: number | null;
  /** Mean of the squares (e.g. mean squared Nash gap). */
  meanSquare: number | null;
  /** Root mean square: sqrt(meanSquare). */
  rms: number | null;
}

export interface StatsGroup {
  /** groupBy variable -> value. */
  key: Record<string, unknown>;
  /** Succeeded runs in the group (seeds fall inside a group). */
  n: number;
  /** The run, when the group holds exactly one. */
  runId: string | null;
  /** The group's first stored run (lowest id): the one to show for the group. */
  firstRunId: string;
  /** The contract whose results the group aggregates. */
  contract: number;
  /** The core versions that computed the group's results. */
  coreVersions: string[];
  metrics: Record<string, MetricStats>;
  collapsedRate: number | null;
  convergedRate: number | null;
  /** Rate of summary.audit.inInterval over the runs that have an audit (m = 2). */
  inIntervalRate: number | null;
  meanConvergedAt: number | null;
}

/** Succeeded runs of a contract that a reply leaves out (never aggregated with another contract). */
export interface OtherContract {
  contract: number;
  runs: number;
  coreVersions: string[];
}

export interface SweepStats {
  sweepId: string;
  groupBy: string[];
  metrics: string[];
  where: Filter[];
  variables: string[];
  /** The contract every group aggregates (null when no run matched). */
  contract: number | null;
  /** The core versions behind the groups. */
  coreVersions: string[];
  /** Matching succeeded runs of other contracts, left out. */
  otherContracts: OtherContract[];
  /** Groups of `contract` in all (`groups` is the page asked for). */
  groupCount: number;
  groups: StatsGroup[];
}


/** Merges the rows of the contracts a reply leaves out. */
function others(rows: { contract: number; n: number; coreVersions: string[] }[]): OtherContract[] {
  const by = new Map<number, OtherContract>();
  for (const r of rows) {
    const o = by.get(r.contract) ?? { contract: r.contract, runs: 0, coreVersions: [] };
    o.runs += r.n;
    for (const v of r.coreVersions) if (!o.coreVersions.includes(v)) o.coreVersions.push(v);
    by.set(r.contract, o);
  }
  return [...by.values()].map((o) => ({ ...o, coreVersions: o.coreVersions.sort() })).sort((a, b) => b.contract - a.contract);
}

const union = (lists: string[][]) => [...new Set(lists.flat())].sort();

/** Rows of the stats statement -> groups (every contract), in the order of the group values. */
function toGroups(rows: Record<string, unknown>[], groupBy: string[], metrics: string[], keys: IndexKey[] | null): StatsGroup[] {
  const all = rows.map((row) => {
    const out: StatsGroup = {
      key: Object.fromEntries(groupBy.map((g, i) => [g, keys ? keys[i].values[row[`g${i}`] as number] : (row[`g${i}`] ?? null)])),
      n: row.n as number,
      runId: (row.run_id as string | null) ?? null,
      firstRunId: row.first_run_id as string,
      contract: row.contract as number,
      coreVersions: (row.core_versions as string[] | null) ?? [],
      metrics: {},
      collapsedRate: row.collapsed_rate as number | null,
      convergedRate: row.converged_rate as number | null,
      inIntervalRate: row.in_interval_rate as number | null,
      meanConvergedAt: row.mean_converged_at as number | null,
    };
    // A Map while filling: metric names are validated, but never let one be a key of a plain object's prototype.
    const ms = new Map<string, MetricStats>();
    metrics.forEach((m, i) => {
      const msq = row[`m${i}_msq`] as number | null;
      ms.set(m, {
        count: row[`m${i}_count`] as number,
        mean: row[`m${i}_mean`] as number | null,
        std: row[`m${i}_std`] as number | null,
        min: row[`m${i}_min`] as number | null,
        p10: row[`m${i}_p10`] as number | null,
        median: row[`m${i}_p50`] as number | null,
        p90: row[`m${i}_p90`] as number | null,
        max: row[`m${i}_max`] as number | null,
        meanSquare: msq,
        rms: msq === null ? null : Math.sqrt(msq),
      });
    });
    out.metrics = Object.fromEntries(ms);
    return out;
  });
  if (keys && keys.length) {
    // Positions -> the order of their values (the statement sorted by position).
    const rank = rows.map((row) => keys.map((k, i) => k.rank[row[`g${i}`] as number]));
    const order = all.map((_, i) => i).sort((a, b) => {
      if (all[a].contract !== all[b].contract) return all[a].contract - all[b].contract;
      for (let i = 0; i < keys.length; i++) if (rank[a][i] !== rank[b][i]) return rank[a][i] - rank[b][i];
      return 0;
    });
    return order.map((i) => all[i]);
  }
  return all;
}

/**
 * The rows of the stats statement. From the stats rows (run_stats) when they answer the
 * request: in parts over disjoint groups run at once on one snapshot (a sort and the
 * percentiles of a million rows are one core's work otherwise), with each group's core
 * versions as a range; the rare sweep where a group holds two versions is asked again
 * for the list. Groups that are ranges of the run index are read range by range, not
 * sorted (stats-sql.ts, StatsSource.ranges), their contracts as a range as well.
 */
async function statsRows(
  db: Queryable, sweepId: string, variables: string[], input: StatsQueryInput, keys: IndexKey[] | null, total: number,
): Promise<Record<string, unknown>[]> {
  if (!runStatsAnswers(input, variables, keys)) {
    return (await statsQuery<Record<string, unknown>>(db, buildStatsQuery(sweepId, variables, input, keys))).rows;
  }
  const perGroup = rangeRows(keys, total);
  const ranges = perGroup !== null && perGroup >= statsRangeSettings.minRows ? { total } : undefined;
  const of = ranges || canSplit(keys, total) ? Math.max(1, statsParallelSettings.parts) : 1;
  const run = (versionRange: boolean) => statsQueriesShared<Record<string, unknown>>(db, Array.from({ length: of }, (_, k) =>
    buildStatsQuery(sweepId, variables, input, keys, { runStats: true, versionRange, part: { k, of, total }, ranges })));
  const rows = await run(true);
  if (rows.every((r) => r.core_min === r.core_max && (r.contract_max === undefined || r.contract_max === r.contract))) {
    for (const r of rows) r.core_versions = [r.core_min];
    return rows;
  }
  return run(false);
}

// On the pg pool: through Prisma the aggregate costs more than the service's 5% (docs/service-design.md, "Hot paths on pg").
/**
 * Groups the succeeded runs of a sweep by axis variables and aggregates metrics per group,
 * over the results of one contract (the newest by default; see StatsOptions.contract).
 * Returns null when the sweep does not exist; throws StatsQueryError on a bad request.
 *
 * A reply that took long to compute is kept for a sweep whose results can no longer
 * change (stats-plan.ts): the dashboard, plots and notebooks ask a finished million-run
 * sweep the same questions again and again.
 */
export async function sweepStats(db: Queryable, sweepId: string, o: StatsOptions): Promise<SweepStats | null> {
  checkContract(o.contract);
  const meta = await sweepMeta(db, sweepId, o.visibility ?? ALL_SWEEPS);
  if (!meta) return null;
  const groupBy = [...new Set(o.groupBy)];
  const metrics = [...new Set(o.metrics)];
  const { variables: groupVars } = checkGroupBy(groupBy, meta.variables);
  checkMetrics(metrics);
  const input = { groupBy, metrics, where: o.where };
  buildStatsQuery(sweepId, meta.variables, input); // the request's errors before any work

  const state = await resultsState(db, sweepId);
  const key = `stats\0${sweepId}\0${state.version}\0${JSON.stringify(input)}`;
  const cache = replyCache(db);
  const keep = state.settled && state.version !== null;
  const all = (keep ? cache.get<StatsGroup[]>(key) : undefined) ?? await shared(db, key, async () => {
    const started = performance.now();
    const keys = await indexKeys(db, sweepId, meta.spec, state.total, groupVars);
    const rows = await statsRows(db, sweepId, meta.variables, input, keys, state.total);
    const groups = toGroups(rows, groupBy, metrics, keys);
    if (keep && performance.now() - started >= statsCacheSettings.minMs) cache.set(key, groups, Math.max(1, groups.length));
    return groups;
  });
  const contract = o.contract ?? (all.length ? Math.max(...all.map((g) => g.contract)) : null);
  const groups = all.filter((g) => g.contract === contract);
  const offset = Math.max(0, o.offset ?? 0);
  return {
    sweepId, groupBy, metrics, where: o.where, variables: meta.variables,
    contract,
    coreVersions: union(groups.map((g) => g.coreVersions)),
    otherContracts: others(all.filter((g) => g.contract !== contract)),
    groupCount: groups.length,
    groups: o.limit === undefined && offset === 0 ? groups : groups.slice(offset, o.limit === undefined ? undefined : offset + Math.max(0, o.limit)),
  };
}

// ------------------------------------------------------------------ sweepsByTag

export interface TagSweepStats {
  id: string;
  name: string;
  createdAt: Date;
  status: string;
  total: number;
  /** Succeeded runs, of every contract. */
  succeeded: number;
  failed: number;
  /** The contract whose results the rates and metrics aggregate (null: no succeeded run). */
  contract: number | null;
  coreVersions: string[];
  /** Succeeded runs of other contracts, left out of the rates and metrics. */
  otherContracts: OtherContract[];
  collapsedRate: number | null;
  convergedRate: number | null;
  inIntervalRate: number | null;
  meanNashGap: number | null;
  meanConvergedAt: number | null;
  /** Optional extra metrics: mean and sample sd over the sweep's succeeded runs. */
  metrics: Record<string, { count: number; mean: number | null; std: number | null; meanSquare: number | null; rms: number | null }>;
}

interface TagSweepRow {
  id: string;
  name: string;
  createdAt: Date;
  status: string;
  total: number;
  settled: boolean;
  version: string | null;
  succeeded: number;
  failed: number;
}

interface LineRow {
  sweep_id: string;
  contract: number;
  n: number;
  core_versions: string[];
  collapsed_rate: number | null;
  converged_rate: number | null;
  in_interval_rate: number | null;
  mean_nash_gap: number | null;
  mean_converged_at: number | null;
  /** column -> [count, mean, sample sd, mean square]. */
  metrics: Record<string, [number, number | null, number | null, number | null]>;
}

const LINE_COLUMNS = `sweep_id::text, contract, n, core_versions, collapsed_rate, converged_rate, in_interval_rate,
                      mean_nash_gap, mean_converged_at, metrics`;

/** A line of run_stats_lines in the shape of buildTagStatsQuery's rows, with the metrics asked for. */
function lineRow(l: LineRow, columns: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: l.sweep_id, contract: l.contract, coreVersions: l.core_versions, succeeded: 0, failed: 0, n: l.n,
    collapsedRate: l.collapsed_rate, convergedRate: l.converged_rate, inIntervalRate: l.in_interval_rate,
    meanNashGap: l.mean_nash_gap, meanConvergedAt: l.mean_converged_at,
  };
  const byColumn = new Map(Object.entries(l.metrics));
  columns.forEach((c, i) => {
    const [count, mean, std, msq] = byColumn.get(c) ?? [0, null, null, null];
    Object.assign(out, { [`m${i}_count`]: count, [`m${i}_mean`]: mean, [`m${i}_std`]: std, [`m${i}_msq`]: msq });
  });
  return out;
}

/**
 * Lines of sweeps whose metrics are all summary columns, from the stats rows: a settled
 * sweep's kept lines (run_stats_lines) while its run counters stand at the version they
 * were computed at; kept now for a settled sweep that has none (computed when the worker
 * finished it, so only a sweep that settled otherwise, by a cancel, pays here once); a
 * sweep still running is aggregated afresh (exact at every request).
 */
async function tagLines(db: Queryable, sweeps: TagSweepRow[], columns: string[]): Promise<Map<string, Record<string, unknown>[]>> {
  const out = new Map<string, Record<string, unknown>[]>(sweeps.map((s) => [s.id, []]));
  const add = (rows: LineRow[]) => { for (const l of rows) out.get(l.sweep_id)?.push(lineRow(l, columns)); };
  const kept = async (list: TagSweepRow[]) => {
    if (!list.length) return new Set<string>();
    const { rows } = await db.query<LineRow>(
      `SELECT ${LINE_COLUMNS} FROM run_stats_lines l
         JOIN unnest($1::uuid[], $2::bigint[]) v(id, version) ON l.sweep_id = v.id AND l.version = v.version`,
      [list.map((s) => s.id), list.map((s) => s.version)],
    );
    add(rows);
    return new Set(rows.map((r) => r.sweep_id));
  };
  const settled = sweeps.filter((s) => s.settled && s.version !== null && s.succeeded > 0);
  const found = await kept(settled);
  let missing = settled.filter((s) => !found.has(s.id));
  if (missing.length) {
    await db.query('SELECT run_stats_lines_fill($1::uuid[])', [missing.map((s) => s.id)]);
    const filled = await kept(missing);
    missing = missing.filter((s) => !filled.has(s.id)); // changed meanwhile: aggregated afresh below
  }
  const live = [...sweeps.filter((s) => !s.settled || s.version === null), ...missing].filter((s) => s.succeeded > 0);
  if (live.length) {
    const { rows } = await statsQuery<LineRow>(db, { text: `SELECT ${LINE_COLUMNS} FROM run_stats_line_rows($1::uuid[])`, values: [live.map((s) => s.id)] });
    add(rows);
  }
  return out;
}

/** Lines of sweeps with a metric read from the summary jsonb: runs joined to results, a settled sweep's line kept in memory. */
async function tagLinesJoined(db: Queryable, sweeps: TagSweepRow[], metrics: string[]): Promise<Map<string, Record<string, unknown>[]>> {
  const cache = replyCache(db);
  const keyOf = (s: TagSweepRow) => (s.settled && s.version !== null ? `tag\0${s.id}\0${s.version}\0${JSON.stringify(metrics)}` : null);
  const lines = new Map<string, Record<string, unknown>[]>();
  for (const s of sweeps) {
    const key = keyOf(s);
    const hit = key ? cache.get<Record<string, unknown>[]>(key) : undefined;
    if (hit) lines.set(s.id, hit);
  }
  const missing = sweeps.filter((s) => !lines.has(s.id));
  if (missing.length) {
    const started = performance.now();
    const { rows } = await statsQuery<Record<string, unknown>>(db, buildTagStatsQuery(missing.map((s) => s.id), { metrics }));
    for (const s of missing) lines.set(s.id, []);
    for (const row of rows) lines.get(row.id as string)!.push(row);
    if (performance.now() - started >= statsCacheSettings.minMs) {
      for (const s of missing) {
        const key = keyOf(s);
        if (key) cache.set(key, lines.get(s.id), 1);
      }
    }
  }
  return lines;
}

/**
 * One line per sweep carrying `tag`, oldest first (a team's history). Each line
 * aggregates one contract's results: `contract` if given, else the sweep's newest.
 */
export async function sweepsByTag(
  db: Queryable,
  tag: string,
  o: { metrics?: string[]; limit?: number; contract?: number; visibility?: Visibility } = {},
): Promise<TagSweepStats[]> {
  checkContract(o.contract);
  const metrics = [...new Set(o.metrics ?? [])];
  checkMetrics(metrics);
  const { rows: sweeps } = await db.query<TagSweepRow>(
    buildTagSweepsQuery(tag, { limit: Math.max(1, Math.min(o.limit ?? 200, 1000)), team: visibleTeam(o.visibility ?? ALL_SWEEPS) }),
  );
  const fields = checkMetrics(metrics).fields;
  const fromLines = fields.every((f) => f.column);
  const lines = fromLines ? await tagLines(db, sweeps, fields.map((f) => f.column as string)) : await tagLinesJoined(db, sweeps, metrics);
  // Lines from run_stats carry no run counts: the sweep's own (the counters) stand first.
  const bySweep = new Map(sweeps.map((s) => [s.id, [
    { ...s, contract: null, succeeded: fromLines ? s.succeeded : 0, failed: fromLines ? s.failed : 0 },
    ...(lines.get(s.id) ?? []),
  ] as Record<string, unknown>[]]));
  return [...bySweep.values()].map((list) => {
    const first = list[0];
    const withResults = list.filter((r) => r.contract !== null);
    const contract = o.contract ?? (withResults.length ? Math.max(...withResults.map((r) => r.contract as number)) : null);
    const row = withResults.find((r) => r.contract === contract);
    const sum = (k: string) => list.reduce((a, r) => a + (r[k] as number), 0);
    const pick = (k: string) => (row ? (row[k] as number | null) : null);
    const out: TagSweepStats = {
      id: first.id as string, name: first.name as string, createdAt: first.createdAt as Date, status: first.status as string,
      total: first.total as number, succeeded: sum('succeeded'), failed: sum('failed'),
      contract: row ? contract : null,
      coreVersions: row ? (row.coreVersions as string[]) : [],
      otherContracts: others(withResults.filter((r) => r !== row).map((r) => ({
        contract: r.contract as number, n: r.n as number, coreVersions: r.coreVersions as string[],
      }))),
      collapsedRate: pick('collapsedRate'), convergedRate: pick('convergedRate'), inIntervalRate: pick('inIntervalRate'),
      meanNashGap: pick('meanNashGap'), meanConvergedAt: pick('meanConvergedAt'), metrics: {},
    };
    const ms = new Map<string, TagSweepStats['metrics'][string]>();
    metrics.forEach((m, i) => {
      const msq = pick(`m${i}_msq`);
      ms.set(m, {
        count: row ? (row[`m${i}_count`] as number) : 0,
        mean: pick(`m${i}_mean`),
        std: pick(`m${i}_std`),
        meanSquare: msq,
        rms: msq === null ? null : Math.sqrt(msq),
      });
    });
    out.metrics = Object.fromEntries(ms);
    return out;
  });
}
