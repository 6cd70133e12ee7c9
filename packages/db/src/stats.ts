// Aggregates over a sweep's results, computed in Postgres: one parameterised statement per
// request, never the runs loaded into Node. User input never reaches the SQL text: field
// names are checked against a whitelist (summary fields) or the sweep's own axis
// variables, and travel as parameters (jsonb keys, text[] paths, values).
//
//   sweepStats   GET /v1/sweeps/:id/stats  group the succeeded runs by axis variables
//   sweepsByTag  GET /v1/stats?tag=        one line per sweep carrying a tag
import type pg from 'pg';
import { ALL_SWEEPS, teamCondition, visibleTeam, type Visibility } from './sweeps.ts';

type Queryable = Pick<pg.Pool, 'query'>;

/** A request the caller got wrong (unknown variable or metric, malformed filter): a 400. */
export class StatsQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StatsQueryError';
  }
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (s: string): boolean => UUID_RE.test(s);

// ------------------------------------------------------------------ summary fields

type Kind = 'number' | 'boolean';

/** A whitelisted field of the stored summary (section 5 of the model contract). */
export interface SummaryField {
  /** As the caller wrote it, e.g. `summary.basinShare.0`. */
  name: string;
  /** Path inside results.summary, e.g. ['basinShare', '0']. */
  path: string[];
  kind: Kind;
  /** The real column of results holding the same value, when there is one. */
  column: string | null;
}

const TOP_SCALARS: Record<string, Kind> = {
  converged: 'boolean', convergedAt: 'number', collapsed: 'boolean', nashGap: 'number', survivingBasins: 'number',
};
const FINAL_SCALARS = new Set(['t', 'entropy', 'effectiveSupport', 'outside', 'step']);
const FINAL_VECTORS = new Set(['mass', 'meanReward', 'varReward']);
const AUDIT_SCALARS: Record<string, Kind> = { disjoint: 'boolean', inWindow: 'boolean', inInterval: 'boolean' };
const AUDIT_VECTORS = new Set(['initMass', 'crossGap', 'leakage']);
const INDEX_RE = /^(0|[1-9][0-9]{0,3})$/;

/** Summary paths stored in their own columns of `results` (packages/db/src/results.ts). */
const COLUMNS: Record<string, string> = {
  converged: 'converged',
  convergedAt: 'converged_at',
  collapsed: 'collapsed',
  nashGap: 'nash_gap',
  'basinShare.0': 'basin_share0',
  survivingBasins: 'surviving_basins',
  'audit.inInterval': 'in_interval',
  'final.entropy': 'final_entropy',
};

export const SUMMARY_FIELD_HELP =
  'summary.converged, summary.convergedAt, summary.collapsed, summary.survivingBasins, summary.nashGap, ' +
  'summary.basinShare.<i>, summary.final.<t|entropy|effectiveSupport|outside|step>, summary.final.<mass|meanReward|varReward>.<i>, ' +
  'summary.audit.<disjoint|inWindow|inInterval>, summary.audit.<initMass|crossGap|leakage>.<i>, summary.audit.interval.<0|1>';

/** The summary field named `name` (`summary.<path>`), or null when it is not one. */
export function parseSummaryField(name: string): SummaryField | null {
  if (!name.startsWith('summary.')) return null;
  const segs = name.slice('summary.'.length).split('.');
  const kind = summaryKind(segs);
  if (!kind) return null;
  const key = segs.join('.');
  return { name, path: segs, kind, column: COLUMNS[key] ?? null };
}

function summaryKind(s: string[]): Kind | null {
  const idx = (x: string | undefined) => x !== undefined && INDEX_RE.test(x);
  if (s.length === 1) return TOP_SCALARS[s[0]] ?? null;
  if (s.length === 2 && s[0] === 'basinShare' && idx(s[1])) return 'number';
  if (s[0] === 'final') {
    if (s.length === 2 && FINAL_SCALARS.has(s[1])) return 'number';
    if (s.length === 3 && FINAL_VECTORS.has(s[1]) && idx(s[2])) return 'number';
    return null;
  }
  if (s[0] === 'audit') {
    if (s.length === 2) return AUDIT_SCALARS[s[1]] ?? null;
    if (s.length === 3 && AUDIT_VECTORS.has(s[1]) && idx(s[2])) return 'number';
    if (s.length === 3 && s[1] === 'interval' && (s[2] === '0' || s[2] === '1')) return 'number';
  }
  return null;
}

// ------------------------------------------------------------------ where filters

export const FILTER_OPS = ['=', '!=', '<', '<=', '>', '>='] as const;
export type FilterOp = (typeof FILTER_OPS)[number];

export interface Filter {
  /** An axis variable (`q`) or a summary field (`summary.collapsed`). */
  field: string;
  op: FilterOp;
  value: number | boolean | string | null;
}

const CLAUSE_RE = /^\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*(<=|>=|!=|<>|==|=|<|>)\s*(.*?)\s*$/s;
const NUMBER_RE = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const BARE_RE = /^[^\s"'<>=!;]+$/;

/** Splits on `;` outside quotes. */
function splitClauses(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  for (const ch of text) {
    if (quote) {
      cur += ch;
      if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      cur += ch;
    } else if (ch === ';') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function parseValue(raw: string): Filter['value'] | undefined {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (raw === 'null') return null;
  if (NUMBER_RE.test(raw)) {
    const n = Number(raw);
    return Number.isFinite(n) ? n : undefined;
  }
  if (raw.length >= 2 && (raw[0] === '"' || raw[0] === "'") && raw[raw.length - 1] === raw[0]) {
    const inner = raw.slice(1, -1);
    return inner.includes(raw[0]) ? undefined : inner;
  }
  return BARE_RE.test(raw) ? raw : undefined;
}

/**
 * Parses `q>=0.3;summary.collapsed=false;D!=2` (one string or several, e.g. repeated
 * `where` params). Values: numbers, true/false, null, "quoted" or bare strings.
 * Throws StatsQueryError naming the offending clause.
 */
export function parseWhere(input: string | string[] | undefined | null): Filter[] {
  if (input === undefined || input === null) return [];
  const texts = Array.isArray(input) ? input : [input];
  const filters: Filter[] = [];
  for (const text of texts) {
    for (const clause of splitClauses(text)) {
      if (clause.trim() === '') continue;
      const m = CLAUSE_RE.exec(clause);
      if (!m) {
        throw new StatsQueryError(
          `malformed where clause ${JSON.stringify(clause.trim())}: expected <field><op><value> with op one of ${FILTER_OPS.join(' ')} (clauses separated by ;)`,
        );
      }
      const op = (m[2] === '<>' ? '!=' : m[2] === '==' ? '=' : m[2]) as FilterOp;
      if (m[3] === '') throw new StatsQueryError(`malformed where clause ${JSON.stringify(clause.trim())}: missing value after ${op}`);
      const value = parseValue(m[3]);
      if (value === undefined) {
        throw new StatsQueryError(
          `malformed where clause ${JSON.stringify(clause.trim())}: cannot read value ${JSON.stringify(m[3])} (use a number, true, false, null, or a string; quote strings with spaces or operators)`,
        );
      }
      if (value === null && op !== '=' && op !== '!=') {
        throw new StatsQueryError(`malformed where clause ${JSON.stringify(clause.trim())}: null only works with = and !=`);
      }
      filters.push({ field: m[1], op, value });
    }
  }
  return filters;
}

const show = (f: Filter) => `${f.field}${f.op}${f.value === null ? 'null' : typeof f.value === 'string' ? JSON.stringify(f.value) : String(f.value)}`;

// ------------------------------------------------------------------ sweep variables

/** Axis variables of a stored spec, in axis order (zip members in order, random params sorted by name). */
export function specVariables(spec: unknown): string[] {
  const out: string[] = [];
  const axes = (spec as { axes?: unknown } | null)?.axes;
  if (!Array.isArray(axes)) return out;
  const add = (a: unknown) => {
    if (!a || typeof a !== 'object') return;
    const o = a as Record<string, unknown>;
    if (typeof o.param === 'string') out.push(o.param);
    else if (Array.isArray(o.zip)) o.zip.forEach(add);
    else if (o.random && typeof o.random === 'object') {
      const params = (o.random as { params?: unknown }).params;
      if (params && typeof params === 'object') out.push(...Object.keys(params).sort());
    }
  };
  axes.forEach(add);
  return [...new Set(out)];
}

export interface SweepMeta {
  id: string;
  spec: unknown;
  /** Axis variables: the spec's, then any other key of the first run's params. */
  variables: string[];
}

/**
 * The sweep's spec and axis variables, or null when there is no such sweep visible to
 * `vis` (or the id is no uuid). The API always passes the caller's visibility; the
 * default (every sweep) is for tools with direct database access (bench).
 */
export async function sweepMeta(db: Queryable, sweepId: string, vis: Visibility = ALL_SWEEPS): Promise<SweepMeta | null> {
  if (!isUuid(sweepId)) return null;
  const { rows } = await db.query<{ spec: unknown; first: Record<string, unknown> | null }>(
    `SELECT s.spec, (SELECT r.params FROM runs r WHERE r.sweep_id = s.id ORDER BY r.index LIMIT 1) AS first
       FROM sweeps s WHERE s.id = $1 AND ${teamCondition('$2', 's.team_id')}`,
    [sweepId, visibleTeam(vis)],
  );
  if (!rows.length) return null;
  const variables = specVariables(rows[0].spec);
  const first = rows[0].first;
  if (first && typeof first === 'object') for (const k of Object.keys(first)) if (!variables.includes(k)) variables.push(k);
  return { id: sweepId, spec: rows[0].spec, variables };
}

// ------------------------------------------------------------------ SQL building

/** Positional parameters: add() returns the placeholder. */
class Params {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

const SQL_OPS: Record<FilterOp, string> = { '=': '=', '!=': '<>', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };

function resolveMetric(name: string): SummaryField {
  const f = parseSummaryField(name);
  if (!f) throw new StatsQueryError(`unknown metric ${JSON.stringify(name)}: use one of ${SUMMARY_FIELD_HELP}`);
  return f;
}

/** The field as float8 (booleans as 0/1), reading `res`. */
function metricSql(f: SummaryField, p: Params): string {
  const raw = f.column ? `res.${f.column}` : `(res.summary #>> ${p.add(f.path)}::text[])`;
  if (f.kind === 'boolean') return f.column ? `(${raw})::int::float8` : `(${raw})::boolean::int::float8`;
  return f.column ? `(${raw})::float8` : `${raw}::float8`;
}

function filterSql(f: Filter, variables: string[], p: Params): string {
  const op = SQL_OPS[f.op];
  if (variables.includes(f.field)) {
    // jsonb comparison: numeric order for numbers, no cast that could fail on a string value.
    return `r.params -> ${p.add(f.field)}::text ${op} ${p.add(JSON.stringify(f.value))}::jsonb`;
  }
  const s = parseSummaryField(f.field);
  if (!s) {
    throw new StatsQueryError(
      `unknown field ${JSON.stringify(f.field)} in where clause ${JSON.stringify(show(f))}: not an axis variable of this sweep ` +
        `(${variables.join(', ') || 'none'}) nor a summary field (${SUMMARY_FIELD_HELP})`,
    );
  }
  const expr = s.column ? `res.${s.column}` : `(res.summary #>> ${p.add(s.path)}::text[])::${s.kind === 'boolean' ? 'boolean' : 'float8'}`;
  if (f.value === null) return `${expr} IS ${f.op === '=' ? '' : 'NOT '}NULL`;
  if (s.kind === 'boolean') {
    if (typeof f.value !== 'boolean') throw new StatsQueryError(`where clause ${JSON.stringify(show(f))}: ${f.field} is true or false`);
    if (f.op !== '=' && f.op !== '!=') throw new StatsQueryError(`where clause ${JSON.stringify(show(f))}: ${f.field} only compares with = or !=`);
    return `${expr} ${op} ${p.add(f.value)}::boolean`;
  }
  if (typeof f.value !== 'number') throw new StatsQueryError(`where clause ${JSON.stringify(show(f))}: ${f.field} is a number`);
  return `${expr} ${op} ${p.add(f.value)}::float8`;
}

// ------------------------------------------------------------------ sweepStats

export interface StatsOptions {
  /** Axis variables to group by (none: one group of all runs). */
  groupBy: string[];
  /** Summary fields (`summary.nashGap`, `summary.basinShare.0`, ...). */
  metrics: string[];
  where: Filter[];
  /** Whose sweeps count (default: every sweep; the API always passes the caller's). */
  visibility?: Visibility;
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
  metrics: Record<string, MetricStats>;
  collapsedRate: number | null;
  convergedRate: number | null;
  /** Rate of summary.audit.inInterval over the runs that have an audit (m = 2). */
  inIntervalRate: number | null;
  meanConvergedAt: number | null;
}

export interface SweepStats {
  sweepId: string;
  groupBy: string[];
  metrics: string[];
  where: Filter[];
  variables: string[];
  groups: StatsGroup[];
}

export const MAX_GROUP_BY = 6;
export const MAX_METRICS = 24;

/** Statement text and parameters of sweepStats (exported for EXPLAIN in the benchmark). */
export function buildStatsQuery(sweepId: string, variables: string[], o: StatsOptions): { text: string; values: unknown[] } {
  const groupBy = [...new Set(o.groupBy)];
  const metrics = [...new Set(o.metrics)];
  if (groupBy.length > MAX_GROUP_BY) throw new StatsQueryError(`groupBy takes at most ${MAX_GROUP_BY} variables`);
  if (metrics.length > MAX_METRICS) throw new StatsQueryError(`metrics takes at most ${MAX_METRICS} fields`);
  for (const g of groupBy) {
    if (!variables.includes(g)) {
      throw new StatsQueryError(
        `unknown groupBy variable ${JSON.stringify(g)}: this sweep's axis variables are ${variables.length ? variables.join(', ') : '(none)'}`,
      );
    }
  }
  const fields = metrics.map(resolveMetric);
  const p = new Params();
  const sweep = p.add(sweepId);
  const inner = [
    ...groupBy.map((g, i) => `r.params -> ${p.add(g)}::text AS g${i}`),
    ...fields.map((f, i) => `${metricSql(f, p)} AS m${i}`),
    'r.id', 'res.collapsed', 'res.converged', 'res.in_interval', 'res.converged_at',
  ];
  const conds = [`r.sweep_id = ${sweep}::uuid`, `r.status = 'succeeded'`, ...o.where.map((f) => filterSql(f, variables, p))];
  const outer = [
    ...groupBy.map((_, i) => `g${i}`),
    'count(*)::int AS n',
    'CASE WHEN count(*) = 1 THEN min(id)::text END AS run_id',
    'min(id)::text AS first_run_id',
    ...fields.flatMap((_, i) => [
      `count(m${i})::int AS m${i}_count`,
      `avg(m${i}) AS m${i}_mean`,
      `stddev_samp(m${i}) AS m${i}_std`,
      `min(m${i}) AS m${i}_min`,
      `percentile_cont('{0.1,0.5,0.9}'::float8[]) WITHIN GROUP (ORDER BY m${i}) AS m${i}_pct`,
      `max(m${i}) AS m${i}_max`,
    ]),
    'avg(collapsed::int)::float8 AS collapsed_rate',
    'avg(converged::int)::float8 AS converged_rate',
    'avg(in_interval::int)::float8 AS in_interval_rate',
    'avg(converged_at)::float8 AS mean_converged_at',
  ];
  const keys = groupBy.map((_, i) => `g${i}`).join(', ');
  const text =
    `SELECT ${outer.join(',\n       ')}\n` +
    `FROM (SELECT ${inner.join(', ')}\n` +
    `        FROM runs r JOIN results res ON res.id = r.result_id\n` +
    `       WHERE ${conds.join('\n         AND ')}) t` +
    (groupBy.length ? `\nGROUP BY ${keys}\nORDER BY ${keys}` : '');
  return { text, values: p.values };
}

/**
 * Groups the succeeded runs of a sweep by axis variables and aggregates metrics per group.
 * Returns null when the sweep does not exist; throws StatsQueryError on a bad request.
 */
export async function sweepStats(db: Queryable, sweepId: string, o: StatsOptions): Promise<SweepStats | null> {
  const meta = await sweepMeta(db, sweepId, o.visibility ?? ALL_SWEEPS);
  if (!meta) return null;
  const groupBy = [...new Set(o.groupBy)];
  const metrics = [...new Set(o.metrics)];
  const q = buildStatsQuery(sweepId, meta.variables, { groupBy, metrics, where: o.where });
  const { rows } = await db.query<Record<string, unknown>>(q);
  const groups: StatsGroup[] = rows
    .filter((row) => groupBy.length > 0 || (row.n as number) > 0)
    .map((row) => {
      const out: StatsGroup = {
        key: Object.fromEntries(groupBy.map((g, i) => [g, row[`g${i}`] ?? null])),
        n: row.n as number,
        runId: (row.run_id as string | null) ?? null,
        firstRunId: row.first_run_id as string,
        metrics: {},
        collapsedRate: row.collapsed_rate as number | null,
        convergedRate: row.converged_rate as number | null,
        inIntervalRate: row.in_interval_rate as number | null,
        meanConvergedAt: row.mean_converged_at as number | null,
      };
      metrics.forEach((m, i) => {
        const pct = (row[`m${i}_pct`] as (number | null)[] | null) ?? [null, null, null];
        out.metrics[m] = {
          count: row[`m${i}_count`] as number,
          mean: row[`m${i}_mean`] as number | null,
          std: row[`m${i}_std`] as number | null,
          min: row[`m${i}_min`] as number | null,
          p10: pct[0] ?? null,
          median: pct[1] ?? null,
          p90: pct[2] ?? null,
          max: row[`m${i}_max`] as number | null,
        };
      });
      return out;
    });
  return { sweepId, groupBy, metrics, where: o.where, variables: meta.variables, groups };
}

// ------------------------------------------------------------------ sweepsByTag

export interface TagSweepStats {
  id: string;
  name: string;
  createdAt: Date;
  status: string;
  total: number;
  succeeded: number;
  failed: number;
  collapsedRate: number | null;
  convergedRate: number | null;
  inIntervalRate: number | null;
  meanNashGap: number | null;
  meanConvergedAt: number | null;
  /** Optional extra metrics: mean and sample sd over the sweep's succeeded runs. */
  metrics: Record<string, { count: number; mean: number | null; std: number | null }>;
}

/** One line per sweep carrying `tag`, oldest first (a team's history). */
export async function sweepsByTag(
  db: Queryable,
  tag: string,
  o: { metrics?: string[]; limit?: number; visibility?: Visibility } = {},
): Promise<TagSweepStats[]> {
  const metrics = [...new Set(o.metrics ?? [])];
  if (metrics.length > MAX_METRICS) throw new StatsQueryError(`metrics takes at most ${MAX_METRICS} fields`);
  const fields = metrics.map(resolveMetric);
  const p = new Params();
  const tagP = p.add(tag);
  const limitP = p.add(Math.max(1, Math.min(o.limit ?? 200, 1000)));
  const teamP = p.add(visibleTeam(o.visibility ?? ALL_SWEEPS));
  const extra = fields.flatMap((f, i) => {
    const e = metricSql(f, p);
    return [`count(${e})::int AS m${i}_count`, `avg(${e}) AS m${i}_mean`, `stddev_samp(${e}) AS m${i}_std`];
  });
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT s.id, s.name, s.created_at AS "createdAt", s.status, s.total,
            count(r.id) FILTER (WHERE r.status = 'succeeded')::int AS succeeded,
            count(r.id) FILTER (WHERE r.status = 'failed')::int AS failed,
            avg(res.collapsed::int)::float8 AS "collapsedRate",
            avg(res.converged::int)::float8 AS "convergedRate",
            avg(res.in_interval::int)::float8 AS "inIntervalRate",
            avg(res.nash_gap)::float8 AS "meanNashGap",
            avg(res.converged_at)::float8 AS "meanConvergedAt"${extra.length ? ',\n            ' + extra.join(',\n            ') : ''}
       FROM (SELECT * FROM sweeps WHERE ${tagP} = ANY(tags) AND ${teamCondition(teamP)} ORDER BY created_at, id LIMIT ${limitP}) s
       LEFT JOIN runs r ON r.sweep_id = s.id
       LEFT JOIN results res ON res.id = r.result_id AND r.status = 'succeeded'
      GROUP BY s.id, s.name, s.created_at, s.status, s.total
      ORDER BY s.created_at, s.id`,
    p.values,
  );
  return rows.map((row) => {
    const out = {
      id: row.id, name: row.name, createdAt: row.createdAt, status: row.status, total: row.total,
      succeeded: row.succeeded, failed: row.failed, collapsedRate: row.collapsedRate, convergedRate: row.convergedRate,
      inIntervalRate: row.inIntervalRate, meanNashGap: row.meanNashGap, meanConvergedAt: row.meanConvergedAt, metrics: {},
    } as TagSweepStats;
    metrics.forEach((m, i) => {
      out.metrics[m] = {
        count: row[`m${i}_count`] as number,
        mean: row[`m${i}_mean`] as number | null,
        std: row[`m${i}_std`] as number | null,
      };
    });
    return out;
  });
}
