// Run reads of the API: a sweep's runs page by page, and one run with its result.
import type { Queryable } from './queryable.ts';
import { teamCondition, visibleTeam, type RunStatus, type Visibility } from './sweeps.ts';

export interface RunListItem {
  /** bigint, as text: JavaScript numbers cannot hold every bigserial value. */
  id: string;
  index: number;
  params: unknown;
  status: RunStatus;
  summary: unknown | null;
  error: string | null;
  attempts: number;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface ListRunsOptions {
  status?: RunStatus;
  /** Last index of the previous page (exclusive). */
  afterIndex?: number;
  limit: number;
}

/**
 * A run's status as users see it, in SQL over a run `r` and its sweep `s`: queued runs of
 * a cancelled sweep are cancelled, finished when the sweep was (cancel leaves their rows
 * to a background pass, sweeps.ts cancelQueuedRunsChunk).
 */
export const runStatusSql = (r = 'r', s = 's') => `CASE WHEN ${r}.status = 'queued' AND ${s}.status = 'cancelled' THEN 'cancelled' ELSE ${r}.status END`;
export const runFinishedAtSql = (r = 'r', s = 's') => `CASE WHEN ${r}.status = 'queued' AND ${s}.status = 'cancelled' THEN ${s}.finished_at ELSE ${r}.finished_at END`;

/**
 * Keyset by index, so a page costs the same at the end of a 100,000-run sweep as at its
 * start. Statuses as users see them (runStatusSql); the filter names the stored statuses
 * that show as the one asked for, so it stays an index range.
 */
export async function listRuns(db: Queryable, sweepId: string, o: ListRunsOptions): Promise<{ items: RunListItem[]; nextIndex: number | null }> {
  // One stored status keeps `status = $4`, whose index range is already in index order.
  let filter = 'TRUE';
  if (o.status !== undefined) {
    const { rows } = await db.query<{ status: string }>('SELECT status FROM sweeps WHERE id = $1', [sweepId]);
    const cancelled = rows[0]?.status === 'cancelled';
    if (!cancelled || (o.status !== 'cancelled' && o.status !== 'queued')) filter = 'r.status = $4';
    else filter = o.status === 'cancelled' ? `r.status IN ('cancelled', 'queued')` : 'FALSE';
  }
  const { rows } = await db.query<RunListItem>(
    `SELECT r.id::text AS id, r.index, r.params, ${runStatusSql()} AS status, res.summary, r.error, r.attempts,
            r.started_at AS "startedAt", ${runFinishedAtSql()} AS "finishedAt"
     FROM runs r JOIN sweeps s ON s.id = r.sweep_id LEFT JOIN results res ON res.id = r.result_id
     WHERE r.sweep_id = $1 AND ${filter} AND r.index > $2
     ORDER BY r.index
     LIMIT $3`,
    [sweepId, o.afterIndex ?? -1, o.limit + 1, ...(filter.includes('$4') ? [o.status] : [])],
  );
  const more = rows.length > o.limit;
  const items = more ? rows.slice(0, o.limit) : rows;
  for (const r of items) if (r.status !== 'succeeded') r.summary = null;
  return { items, nextIndex: more ? items[items.length - 1].index : null };
}

export interface RunDetailRow extends RunListItem {
  sweepId: string;
  configHash: string | null;
  worker: string | null;
  config: unknown | null;
  coreVersion: string | null;
  /** The model contract of the result (the major number of coreVersion). */
  contract: number | null;
  gitRevision: string | null;
  generator: string | null;
  /** This run's own compute time; null when it reused a stored result (whose timing may be another team's). */
  durationMs: number | null;
  /** Served from a stored result instead of computed. */
  reused: boolean;
  trajectory: Buffer | null;
}

/** One run with its result (if any), when its sweep is visible; `id` must be a decimal bigint. */
export async function getRunDetail(db: Queryable, id: string, vis: Visibility): Promise<RunDetailRow | null> {
  const { rows } = await db.query<RunDetailRow>(
    `SELECT r.id::text AS id, r.sweep_id AS "sweepId", r.index, r.params, ${runStatusSql()} AS status, r.error, r.attempts,
            r.started_at AS "startedAt", ${runFinishedAtSql()} AS "finishedAt", coalesce(r.config_hash, res.config_hash) AS "configHash", r.worker,
            res.summary, res.config, res.core_version AS "coreVersion", res.contract, res.git_revision AS "gitRevision",
            res.generator, r.reused,
            CASE WHEN r.reused THEN NULL ELSE coalesce(r.duration_ms, res.duration_ms) END AS "durationMs", res.trajectory
     FROM runs r JOIN sweeps s ON s.id = r.sweep_id LEFT JOIN results res ON res.id = r.result_id
     WHERE r.id = $1::bigint AND ${teamCondition('$2', 's.team_id')}`,
    [id, visibleTeam(vis)],
  );
  return rows[0] ?? null;
}
