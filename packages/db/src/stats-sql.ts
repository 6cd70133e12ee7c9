// The SQL of the stats requests: one parameterised statement each. User input never
// reaches the SQL text: field names were checked (stats-filter.ts) against the summary
// fields or the sweep's own axis variables, and travel as parameters (jsonb keys, text[]
// paths, values).
import type { SummaryField } from './stats-fields.ts';
import { checkGroupBy, checkMetrics, resolveFilter, type Filter, type FilterOp } from './stats-filter.ts';
import type { IndexKey } from './stats-plan.ts';
import { teamCondition } from './sweeps.ts';

/** Positional parameters: add() returns the placeholder. */
export class Params {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

// Postgres refuses a float8 product that rounds to zero ("value out of range:
// underflow"), and contract 2 summaries hold values near 1e-200 (an outside mass that
// decayed). Squared in IEEE arithmetic such a value gives 0 or the smallest subnormal, so
// it squares to 0 here; NULL stays NULL (not counted by avg).
const SQUARE_UNDERFLOW = '1.6e-162';
function squareSql(e: string): string {
  return `CASE WHEN abs(${e}) < ${SQUARE_UNDERFLOW} THEN 0 ELSE (${e}) * (${e}) END`;
}

const SQL_OPS = new Map<FilterOp, string>([['=', '='], ['!=', '<>'], ['<', '<'], ['<=', '<='], ['>', '>'], ['>=', '>=']]);

/** The field as float8 (booleans as 0/1), reading `res`. */
export function metricSql(f: SummaryField, p: Params): string {
  const raw = f.column ? `res.${f.column}` : `(res.summary #>> ${p.add(f.path)}::text[])`;
  if (f.kind === 'boolean') return f.column ? `(${raw})::int::float8` : `(${raw})::boolean::int::float8`;
  return f.column ? `(${raw})::float8` : `${raw}::float8`;
}

/** The condition of one where filter, reading `r` (runs) and `res` (results). */
function filterSql(f: Filter, variables: readonly string[], p: Params): string {
  const rf = resolveFilter(f, variables);
  const op = SQL_OPS.get(rf.op) as string;
  if (rf.on === 'variable') {
    // jsonb comparison: numeric order for numbers, no cast that could fail on a string value.
    return `r.params -> ${p.add(rf.variable)}::text ${op} ${p.add(JSON.stringify(rf.value))}::jsonb`;
  }
  const s = rf.field;
  const expr = s.column ? `res.${s.column}` : `(res.summary #>> ${p.add(s.path)}::text[])::${s.kind === 'boolean' ? 'boolean' : 'float8'}`;
  if (rf.value === null) return `${expr} IS ${rf.op === '=' ? '' : 'NOT '}NULL`;
  return `${expr} ${op} ${p.add(rf.value)}::${s.kind === 'boolean' ? 'boolean' : 'float8'}`;
}

/** What a sweep's stats statement groups, aggregates and filters. */
export interface StatsQueryInput {
  /** Axis variables to group by (none: one group of all runs). */
  groupBy: string[];
  /** Summary fields (`summary.nashGap`, `summary.basinShare.0`, ...). */
  metrics: string[];
  where: Filter[];
}

/** How the statement reads the runs: see buildStatsQuery. */
export interface StatsSource {
  /** Read the stats rows (run_stats) instead of runs joined to results; needs `keys`. */
  runStats?: boolean;
  /**
   * Core versions of each group as min and max (`core_min`, `core_max`) instead of the
   * sorted distinct list: one comparison per row instead of a sort per group. A group
   * whose two differ holds several versions, and the caller asks again with the list.
   * With `ranges` the contracts too (`contract`, `contract_max`).
   */
  versionRange?: boolean;
  /**
   * Part `k` of `of` (from the stats rows): the groups split into `of` disjoint sets, one
   * statement each, so that the parts run at once on as many connections. Split by
   * ranges of the sweep's slowest axis when it is grouped (each part reads only its rows),
   * else by the group id modulo `of`.
   */
  part?: { k: number; of: number; total: number };
  /**
   * Each group read as its own range of the stats rows' key (see rangeRows), aggregated
   * on its own: no sort of the sweep's rows by group. Needs `runStats`, and `total` (the
   * sweep's configurations) where `part` does not give it.
   */
  ranges?: { total: number };
}

/**
 * Whether the stats rows answer `o`: group keys from the run index (`keys`), and every
 * metric and filter a summary column (run_stats has no params and no summary jsonb).
 */
export function runStatsAnswers(o: StatsQueryInput, variables: readonly string[], keys: IndexKey[] | null): boolean {
  if (!keys) return false;
  if (!checkMetrics(o.metrics).fields.every((f) => f.column)) return false;
  return o.where.every((f) => {
    const rf = resolveFilter(f, variables);
    return rf.on === 'summary' && rf.field.column !== null;
  });
}

/** Above this many combined positions the groups are keyed by one column per variable. */
const MAX_GROUP_ID = 2 ** 52;

/** Whether `part` can split the statement of `keys` (see StatsSource.part). */
export function canSplit(keys: IndexKey[] | null, total: number): boolean {
  if (!keys || !keys.length) return false;
  if (keys.some((k) => k.stride * k.length === total && k.length > 1)) return true;
  return [...new Map(keys.map((k) => [k.stride, k.length])).values()].reduce((a, l) => a * l, 1) <= MAX_GROUP_ID;
}

/**
 * Runs per group when every group is one contiguous range of run indexes: the grouped
 * axes are the sweep's slowest ones, in order (q, D of q x D x seed), so a group is
 * `index / rows` and reads `rows` consecutive keys of run_stats. Null otherwise.
 */
export function rangeRows(keys: IndexKey[] | null, total: number): number | null {
  if (!keys || !keys.length) return null;
  const axes = [...new Map(keys.map((k) => [k.stride, k])).values()].sort((a, b) => b.stride - a.stride);
  let above = total;
  for (const k of axes) {
    if (k.stride * k.length !== above) return null;
    above = k.stride;
  }
  return above;
}

/**
 * Statement text and parameters of sweepStats (exported for EXPLAIN in the benchmark).
 * With `keys` (one per groupBy variable, stats-plan.ts) the groups are axis positions
 * computed from the run index, gN an integer; without, gN is the jsonb value of params.
 *
 * From the stats rows (`source.runStats`) the positions are folded into one integer per
 * row, the group id, whose digits are the positions in axis order: one sort key instead
 * of one per variable, and rows stored in index order arrive almost sorted by it.
 */
export function buildStatsQuery(
  sweepId: string, variables: string[], o: StatsQueryInput, keys: IndexKey[] | null = null, source: StatsSource = {},
): { text: string; values: unknown[] } {
  const { names: groupBy, variables: groupVars } = checkGroupBy(o.groupBy, variables);
  const { fields } = checkMetrics(o.metrics);
  if (keys && keys.length !== groupVars.length) throw new Error('buildStatsQuery: one index key per groupBy variable');
  if (source.runStats && !runStatsAnswers(o, variables, keys)) throw new Error('buildStatsQuery: the stats rows do not answer this request');
  const p = new Params();
  const sweep = p.add(sweepId);
  // Distinct axes among the keys (zip members share one), slowest first, with the
  // multiplier of each in the group id.
  const axes = keys ? [...new Map(keys.map((k) => [k.stride, k])).values()].sort((a, b) => b.stride - a.stride) : [];
  const span = axes.reduce((a, k) => a * k.length, 1);
  const groupId = source.runStats && keys && keys.length > 0 && span <= MAX_GROUP_ID;
  const mult = new Map<number, number>();
  axes.reduceRight((m, k) => (mult.set(k.stride, m), m * k.length), 1);
  const run = source.runStats ? 'res' : 'r';
  const total = source.part?.total ?? source.ranges?.total ?? 0;
  const rows = source.ranges ? (source.runStats && groupId ? rangeRows(keys, total) : null) : null;
  if (source.ranges && rows === null) throw new Error('buildStatsQuery: the groups are not ranges of the run index');
  const inner = rows !== null ? [] : groupId
    ? [`${axes.map((k) => `(res.index / ${p.add(k.stride)}::int) % ${p.add(k.length)}::int * ${p.add(mult.get(k.stride))}::int8`).join(' + ')} AS gid`]
    : groupVars.map((g, i) => {
      const k = keys?.[i];
      return k ? `(${run}.index / ${p.add(k.stride)}::int) % ${p.add(k.length)}::int AS g${i}` : `r.params -> ${p.add(g)}::text AS g${i}`;
    });
  inner.push(
    ...fields.map((f, i) => `${metricSql(f, p)} AS m${i}`),
    source.runStats ? 'res.run_id AS id' : 'r.id', 'res.contract', 'res.core_version', 'res.collapsed', 'res.converged', 'res.in_interval', 'res.converged_at',
  );
  const conds = source.runStats
    ? [`res.sweep_id = ${sweep}::uuid`, ...o.where.map((f) => filterSql(f, variables, p))]
    : [`r.sweep_id = ${sweep}::uuid`, `r.status = 'succeeded'`, ...o.where.map((f) => filterSql(f, variables, p))];
  const part = source.runStats && source.part && source.part.of > 1 ? source.part : null;
  let outerWhere = '';
  let groupsFrom = '';
  let rowsP = '';
  if (rows !== null) {
    // Group g is the key range [g * rows, (g + 1) * rows): its rows come from the primary
    // key together, so nothing sorts the sweep's rows; only each group's percentiles sort
    // the group's own values. A part takes a range of groups.
    const groups = total / rows;
    const at = (k: number) => (part ? Math.floor((k * groups) / part.of) : k * groups);
    groupsFrom = `generate_series(${p.add(at(part?.k ?? 0))}::int8, ${p.add(at((part?.k ?? 0) + 1) - 1)}::int8) g(gid)`;
    rowsP = p.add(rows);
    conds.push(`res.index >= g.gid * ${rowsP}::int8`, `res.index < (g.gid + 1) * ${rowsP}::int8`);
  } else if (part) {
    const slowest = keys!.find((k) => k.stride * k.length === part.total);
    if (slowest) {
      const at = (k: number) => Math.floor((k * slowest.length) / part.of) * slowest.stride;
      conds.push(`res.index >= ${p.add(at(part.k))}::int`, `res.index < ${p.add(at(part.k + 1))}::int`);
    } else if (groupId) {
      outerWhere = `\n WHERE gid % ${p.add(part.of)}::int8 = ${p.add(part.k)}::int8`;
    } else throw new Error('buildStatsQuery: parts need the slowest axis grouped or a group id');
  }
  const groupCols = groupId
    ? keys!.map((k, i) => `(${rows !== null ? 'g.' : ''}gid / ${p.add(mult.get(k.stride))}::int8 % ${p.add(k.length)}::int)::int AS g${i}`)
    : groupBy.map((_, i) => `g${i}`);
  const outer = [
    'contract',
    ...groupCols,
    'count(*)::int AS n',
    'CASE WHEN count(*) = 1 THEN min(id)::text END AS run_id',
    'min(id)::text AS first_run_id',
    ...(source.versionRange
      ? ['min(core_version) AS core_min', 'max(core_version) AS core_max']
      : ['array_agg(DISTINCT core_version ORDER BY core_version) AS core_versions']),
    ...fields.flatMap((_, i) => [
      `count(m${i})::int AS m${i}_count`,
      `avg(m${i}) AS m${i}_mean`,
      `stddev_samp(m${i}) AS m${i}_std`,
      `min(m${i}) AS m${i}_min`,
      // One aggregate (identical calls are computed once), three float8 columns: an
      // array column costs the client several times more to parse.
      ...['p10', 'p50', 'p90'].map((n, j) => `(percentile_cont('{0.1,0.5,0.9}'::float8[]) WITHIN GROUP (ORDER BY m${i}))[${j + 1}] AS m${i}_${n}`),
      `max(m${i}) AS m${i}_max`,
      `avg(${squareSql(`m${i}`)}) AS m${i}_msq`,
    ]),
    'avg(collapsed::int)::float8 AS collapsed_rate',
    'avg(converged::int)::float8 AS converged_rate',
    'avg(in_interval::int)::float8 AS in_interval_rate',
    'avg(converged_at)::float8 AS mean_converged_at',
  ];
  // Grouped by contract first: results of two contracts are never aggregated together.
  const groupKeys = ['contract', ...(groupId ? ['gid'] : groupBy.map((_, i) => `g${i}`))].join(', ');
  const from = source.runStats ? 'run_stats res' : 'runs r JOIN results res ON res.id = r.result_id';
  if (rows !== null) {
    // With versionRange, a group's contracts come as a range too (contract, contract_max),
    // so no sort by contract within the group: a group of two contracts makes the caller
    // ask again grouped by contract. Ranges compare bytes (COLLATE "C"): only equality counts.
    const range = source.versionRange;
    const cols = range
      ? outer.map((c) => c === 'contract' ? 'min(contract) AS contract, max(contract) AS contract_max'
        : c.replace(/^(min|max)\(core_version\)/, '$1(core_version COLLATE "C")'))
      : outer;
    const text =
      `SELECT a.* FROM ${groupsFrom}\n` +
      `CROSS JOIN LATERAL (\n` +
      `SELECT ${cols.join(',\n       ')}\n` +
      `FROM (SELECT ${inner.join(', ')}\n` +
      `        FROM ${from}\n` +
      `       WHERE ${conds.join('\n         AND ')}\n` +
      // At most `rows` rows (the key is unique): the planner then sizes each range right
      // and keeps the key lookup however large the table grows.
      `       LIMIT ${rowsP}) t\n` +
      `${range ? 'HAVING count(*) > 0' : 'GROUP BY contract'}) a\nORDER BY a.contract, g.gid`;
    return { text, values: p.values };
  }
  const text =
    `SELECT ${outer.join(',\n       ')}\n` +
    `FROM (SELECT ${inner.join(', ')}\n` +
    `        FROM ${from}\n` +
    `       WHERE ${conds.join('\n         AND ')}) t${outerWhere}\n` +
    `GROUP BY ${groupKeys}\nORDER BY ${groupKeys}`;
  return { text, values: p.values };
}

/**
 * The sweeps carrying `tag` (oldest first, at most `limit`), with the state of their
 * results (stats-plan.ts, resultsState) and their succeeded and failed runs (the run counters).
 */
export function buildTagSweepsQuery(tag: string, o: { limit: number; team: string | null }): { text: string; values: unknown[] } {
  const p = new Params();
  const tagP = p.add(tag);
  const teamP = p.add(o.team);
  const limitP = p.add(o.limit);
  const text =
    `SELECT s.id, s.name, s.created_at AS "createdAt", s.status, s.total,
            s.status IN ('succeeded', 'failed', 'cancelled')
              AND coalesce(c.running, 0) = 0 AND (s.status = 'cancelled' OR coalesce(c.queued, 0) = 0) AS settled,
            c.version::text AS version, coalesce(c.succeeded, 0)::int AS succeeded, coalesce(c.failed, 0)::int AS failed
       FROM (SELECT * FROM sweeps WHERE ${tagP} = ANY(tags) AND ${teamCondition(teamP)} ORDER BY created_at, id LIMIT ${limitP}) s
       LEFT JOIN LATERAL (SELECT max(id) AS version,
                                 sum(n) FILTER (WHERE status = 'running') AS running,
                                 sum(n) FILTER (WHERE status = 'queued') AS queued,
                                 sum(n) FILTER (WHERE status = 'succeeded') AS succeeded,
                                 sum(n) FILTER (WHERE status = 'failed') AS failed
                            FROM sweep_run_counts WHERE sweep_id = s.id) c ON true
      ORDER BY s.created_at, s.id`;
  return { text, values: p.values };
}

/**
 * Statement text and parameters of the lines of sweepsByTag: one row per sweep of `ids`
 * and contract of its results (failed and unfinished runs have no result: contract NULL).
 */
export function buildTagStatsQuery(ids: string[], o: { metrics: string[] }): { text: string; values: unknown[] } {
  const { fields } = checkMetrics(o.metrics);
  const p = new Params();
  const idsP = p.add(ids);
  const extra = fields.flatMap((f, i) => {
    const e = metricSql(f, p);
    return [`count(${e})::int AS m${i}_count`, `avg(${e}) AS m${i}_mean`, `stddev_samp(${e}) AS m${i}_std`, `avg(${squareSql(e)}) AS m${i}_msq`];
  });
  const text =
    `SELECT r.sweep_id AS id, res.contract,
            coalesce(array_agg(DISTINCT res.core_version ORDER BY res.core_version) FILTER (WHERE res.core_version IS NOT NULL), '{}') AS "coreVersions",
            count(*) FILTER (WHERE r.status = 'succeeded')::int AS succeeded,
            count(*) FILTER (WHERE r.status = 'failed')::int AS failed,
            count(res.id)::int AS n,
            avg(res.collapsed::int)::float8 AS "collapsedRate",
            avg(res.converged::int)::float8 AS "convergedRate",
            avg(res.in_interval::int)::float8 AS "inIntervalRate",
            avg(res.nash_gap)::float8 AS "meanNashGap",
            avg(res.converged_at)::float8 AS "meanConvergedAt"${extra.length ? ',\n            ' + extra.join(',\n            ') : ''}
       FROM runs r
       LEFT JOIN results res ON res.id = r.result_id AND r.status = 'succeeded'
      WHERE r.sweep_id = ANY(${idsP}::uuid[]) AND r.status IN ('succeeded', 'failed')
      GROUP BY r.sweep_id, res.contract`;
  return { text, values: p.values };
}
