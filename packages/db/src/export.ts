// Exports of a sweep's runs, one row per run in index order: async generators that read
// the runs in keyset-paginated chunks (index > last, LIMIT n), so memory stays the same
// for 100 rows or 100,000 and no connection is held between chunks. The API streams
// what they yield as CSV (RFC 4180) or NDJSON.
import type { Queryable } from './queryable.ts';
import { decodeTrajectory, type StoredMetricsRow } from './trajectory-codec.ts';
import { summaryFields } from './stats-fields.ts';
import { runStatusSql } from './run-queries.ts';
import { specVariables, sweepMeta } from './sweep-meta.ts';
import { ALL_SWEEPS, teamCondition, visibleTeam, type RunStatus, type Visibility } from './sweeps.ts';

export const EXPORT_CHUNK = 2000;
/** Trajectories are larger: fewer runs per round trip. */
export const EXPORT_TRAJECTORY_CHUNK = 200;

export interface ExportRun {
  index: number;
  /** bigint as text. */
  runId: string;
  status: RunStatus;
  params: Record<string, unknown>;
  /** Null unless the run succeeded. */
  summary: Record<string, unknown> | null;
  /** The contract and core version that computed the result (null unless the run succeeded). */
  contract: number | null;
  coreVersion: string | null;
  error: string | null;
  /** Raw encoded trajectory, only when asked for (and the run succeeded). */
  trajectory?: Buffer | null;
  /** Adaptive sweeps: the stage that added the run and its point on the finest lattice (null otherwise). */
  stage?: number | null;
  cell?: number[] | null;
}

export interface ExportOptions {
  status?: RunStatus;
  trajectory?: boolean;
  chunkSize?: number;
}

// On the pg pool: through Prisma pages of summaries cost more than the service's 5% (docs/service-design.md, "Hot paths on pg").
/**
 * The runs of a sweep in index order, read `chunkSize` at a time. The next chunk is asked
 * for while this one is formatted and sent, so Postgres and Node work at the same time;
 * one chunk ahead at most, so memory stays flat.
 */
export async function* exportRuns(db: Queryable, sweepId: string, o: ExportOptions = {}): AsyncGenerator<ExportRun> {
  const limit = o.chunkSize ?? (o.trajectory ? EXPORT_TRAJECTORY_CHUNK : EXPORT_CHUNK);
  const traj = o.trajectory ? `, CASE WHEN r.status = 'succeeded' THEN res.trajectory END AS trajectory` : '';
  // Statuses as users see them: queued runs of a cancelled sweep are cancelled, also before
  // the background pass has written their rows (run-queries.ts, runStatusSql).
  const chunk = (after: number): Promise<{ rows: ExportRun[] }> => db.query<ExportRun>(
    `SELECT r.index, r.id::text AS "runId", ${runStatusSql()} AS status, r.params, r.error, r.stage, r.cell,
            CASE WHEN r.status = 'succeeded' THEN res.summary END AS summary,
            CASE WHEN r.status = 'succeeded' THEN res.contract END AS contract,
            CASE WHEN r.status = 'succeeded' THEN res.core_version END AS "coreVersion"${traj}
       FROM runs r JOIN sweeps s ON s.id = r.sweep_id LEFT JOIN results res ON res.id = r.result_id
      WHERE r.sweep_id = $1 AND r.index > $2 AND ($3::text IS NULL OR ${runStatusSql()} = $3)
      ORDER BY r.index
      LIMIT $4`,
    [sweepId, after, o.status ?? null, limit],
  );
  let next: Promise<{ rows: ExportRun[] }> | null = chunk(-1);
  try {
    while (next) {
      const { rows }: { rows: ExportRun[] } = await next;
      next = rows.length < limit ? null : chunk(rows[rows.length - 1].index);
      for (const row of rows) yield row;
    }
  } finally {
    // The consumer stopped early (a client went away): the chunk read ahead is not wanted.
    next?.catch(() => {});
  }
}

// ------------------------------------------------------------------ columns

export interface ExportLayout {
  /** Axis variables in spec order, then the derived parameters. */
  variables: string[];
  /** The spec's axis variables only (the first of `variables`). */
  axisVariables: string[];
  /** Number of rewards (basins): the length of basinShare. */
  m: number;
  /** The sweep's name (for file names). */
  name: string;
  /** An adaptive (refine) sweep: its runs carry stage and cell columns. */
  refine?: boolean;
}

/** What the export of a sweep looks like, or null when the sweep does not exist or is not visible to `vis`. */
export async function exportLayout(db: Queryable, sweepId: string, vis: Visibility = ALL_SWEEPS): Promise<ExportLayout | null> {
  const meta = await sweepMeta(db, sweepId, vis);
  if (!meta) return null;
  const spec = meta.spec as { name?: unknown; base?: { rewards?: unknown } } | null;
  let m: number | null = null;
  // The data first (axes or derive may set the rewards), the spec's base when nothing succeeded yet.
  // Walks the sweep's succeeded runs in index order into their results, so it stops at the
  // sweep's first result wherever that lies among the results of every sweep.
  const { rows } = await db.query<{ m: number | null }>(
    `SELECT jsonb_array_length(res.summary -> 'basinShare') AS m
       FROM runs r CROSS JOIN LATERAL (SELECT summary FROM results WHERE id = r.result_id) res
      WHERE r.sweep_id = $1 AND r.status = 'succeeded' AND jsonb_typeof(res.summary -> 'basinShare') = 'array'
      ORDER BY r.index
      LIMIT 1`,
    [sweepId],
  );
  if (rows.length && rows[0].m !== null) m = rows[0].m;
  if (m === null && Array.isArray(spec?.base?.rewards)) m = spec.base.rewards.length;
  const refine = spec !== null && typeof spec === 'object' && 'refine' in spec;
  return { variables: meta.variables, axisVariables: meta.axisVariables, m: m ?? 0, name: typeof spec?.name === 'string' ? spec.name : 'sweep', refine };
}

/** Columns before the axis variables: which run, and which contract and core version computed it. */
const FIXED = ['index', 'run_id', 'status', 'contract', 'core_version'];

/**
 * Summary columns: header name and path in the summary. The header is the field's one
 * name (`summary.basinShare.0`), the same string as the stats metric, the filter field
 * and the plot value.
 */
export function summaryColumnPaths(m: number): { name: string; path: string[] }[] {
  return summaryFields(m).map((f) => ({ name: f.name, path: f.path }));
}

/** Column name of each axis variable (prefixed `params.` if it would clash with a fixed column). */
function variableColumns(variables: string[], m: number): string[] {
  const taken = new Set([...FIXED, ...summaryColumnPaths(m).map((c) => c.name), 'error']);
  return variables.map((v) => (taken.has(v) ? `params.${v}` : v));
}

export function csvHeader(layout: ExportLayout): string[] {
  const refine = layout.refine ? ['stage', 'cell'] : [];
  return [...FIXED, ...refine, ...variableColumns(layout.variables, layout.m), ...summaryColumnPaths(layout.m).map((c) => c.name), 'error'];
}

// ------------------------------------------------------------------ CSV (RFC 4180)

const NEEDS_QUOTES = /[",\r\n]/;

/** One field: empty for null, true/false, String(number) (round-trips), quoted when needed. */
export function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return NEEDS_QUOTES.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The value at `path` of parsed JSON, reading own properties only. */
function at(obj: unknown, path: string[]): unknown {
  let cur = obj;
  for (const k of path) {
    if (cur === null || cur === undefined || typeof cur !== 'object' || !Object.hasOwn(cur, k)) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** A CSV formatter for one layout: record(run) returns the line, CRLF-terminated. */
export function csvFormatter(layout: ExportLayout): { header: string; record: (run: ExportRun) => string } {
  const paths = summaryColumnPaths(layout.m).map((c) => c.path);
  const vars = layout.variables;
  return {
    header: csvHeader(layout).map(csvField).join(',') + '\r\n',
    record(run) {
      const f: string[] = [String(run.index), run.runId, run.status, csvField(run.contract), csvField(run.coreVersion)];
      if (layout.refine) f.push(csvField(run.stage), csvField(run.cell));
      for (const v of vars) f.push(csvField(run.params && Object.hasOwn(run.params, v) ? run.params[v] : null));
      for (const p of paths) f.push(csvField(run.summary ? at(run.summary, p) : null));
      f.push(csvField(run.error));
      return f.join(',') + '\r\n';
    },
  };
}

/** The CSV text of the export, one string per chunk of runs (header first). */
export async function* csvChunks(db: Queryable, sweepId: string, layout: ExportLayout, o: ExportOptions = {}): AsyncGenerator<string> {
  const fmt = csvFormatter(layout);
  const chunk = o.chunkSize ?? EXPORT_CHUNK;
  let buf = fmt.header;
  let n = 0;
  for await (const run of exportRuns(db, sweepId, { ...o, trajectory: false })) {
    buf += fmt.record(run);
    if (++n % chunk === 0) {
      yield buf;
      buf = '';
    }
  }
  if (buf) yield buf;
}

// ------------------------------------------------------------------ NDJSON

export interface NdjsonRun {
  index: number;
  runId: string;
  status: RunStatus;
  params: Record<string, unknown>;
  summary: Record<string, unknown> | null;
  contract: number | null;
  coreVersion: string | null;
  error: string | null;
  trajectory?: StoredMetricsRow[] | null;
}

/** NDJSON lines (one JSON object per run), one string per chunk of runs; `trajectory` decoded when asked for. */
export async function* ndjsonChunks(db: Queryable, sweepId: string, o: ExportOptions = {}): AsyncGenerator<string> {
  const chunk = o.chunkSize ?? (o.trajectory ? EXPORT_TRAJECTORY_CHUNK : EXPORT_CHUNK);
  let buf = '';
  let n = 0;
  for await (const run of exportRuns(db, sweepId, o)) {
    const line: NdjsonRun = {
      index: run.index, runId: run.runId, status: run.status, params: run.params, summary: run.summary,
      contract: run.contract, coreVersion: run.coreVersion, error: run.error,
    };
    if (run.stage !== null && run.stage !== undefined) Object.assign(line, { stage: run.stage, cell: run.cell });
    if (o.trajectory) line.trajectory = run.trajectory ? decodeTrajectory(run.trajectory) : null;
    buf += JSON.stringify(line) + '\n';
    if (++n % chunk === 0) {
      yield buf;
      buf = '';
    }
  }
  if (buf) yield buf;
}

/** A safe attachment file name stem: the sweep's name and the start of its id. */
export function exportFileStem(layout: ExportLayout, sweepId: string): string {
  const slug = layout.name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'sweep';
  return `${slug}-${sweepId.slice(0, 8)}-runs`;
}

// ------------------------------------------------------------------ one run's trajectory

export interface RunTrajectory {
  id: string;
  sweepId: string;
  sweepName: string;
  index: number;
  params: Record<string, unknown>;
  /** The keys of params in the sweep's axis order. */
  variables: string[];
  status: RunStatus;
  /** The contract and core version that computed the trajectory (null unless the run succeeded). */
  contract: number | null;
  coreVersion: string | null;
  /** Decoded trajectory, null unless the run succeeded. */
  trajectory: StoredMetricsRow[] | null;
}

const MAX_BIGINT = 9223372036854775807n;

/** One run with its decoded trajectory (for GET /v1/runs/:id/plot.svg); null when there is no such run or the id is no bigint. */
export async function runTrajectory(db: Queryable, runId: string, vis: Visibility = ALL_SWEEPS): Promise<RunTrajectory | null> {
  if (!/^[0-9]{1,19}$/.test(runId) || BigInt(runId) > MAX_BIGINT) return null;
  const { rows } = await db.query<Omit<RunTrajectory, 'trajectory' | 'variables'> & { trajectory: Buffer | null; axes: unknown }>(
    `SELECT r.id::text AS id, r.sweep_id AS "sweepId", s.name AS "sweepName", r.index, r.params, ${runStatusSql()} AS status,
            s.spec -> 'axes' AS axes,
            CASE WHEN r.status = 'succeeded' THEN res.contract END AS contract,
            CASE WHEN r.status = 'succeeded' THEN res.core_version END AS "coreVersion",
            CASE WHEN r.status = 'succeeded' THEN res.trajectory END AS trajectory
       FROM runs r JOIN sweeps s ON s.id = r.sweep_id LEFT JOIN results res ON res.id = r.result_id
      WHERE r.id = $1::bigint AND ${teamCondition('$2', 's.team_id')}`,
    [runId, visibleTeam(vis)],
  );
  if (!rows.length) return null;
  const { axes, trajectory, ...row } = rows[0];
  const variables = specVariables({ axes }).filter((v) => row.params && Object.hasOwn(row.params, v));
  for (const k of Object.keys(row.params ?? {})) if (!variables.includes(k)) variables.push(k);
  return { ...row, variables, trajectory: trajectory ? decodeTrajectory(trajectory) : null };
}
