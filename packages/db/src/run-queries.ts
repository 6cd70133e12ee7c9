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

/** Keyset by index, so a page costs the same at the end of a 100,000-run sweep as at its start. */
export async function listRuns(db: Queryable, sweepId: string, o: ListRunsOptions): Promise<{ items: RunListItem[]; nextIndex: number | null }> {
  const { rows } = await db.query<RunListItem>(
    `SELECT r.id::text AS id, r.index, r.params, r.status, res.summary, r.error, r.attempts,
            r.started_at AS "startedAt", r.finished_at AS "finishedAt"
     FROM runs r LEFT JOIN results res ON res.id = r.result_id
     WHERE r.sweep_id = $1 AND ($2::text IS NULL OR r.status = $2) AND r.index > $3
     ORDER BY r.index
     LIMIT $4`,
    [sweepId, o.status ?? null, o.afterIndex ?? -1, o.limit + 1],
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
    `SELECT r.id::text AS id, r.sweep_id AS "sweepId", r.index, r.params, r.status, r.error, r.attempts,
            r.started_at AS "startedAt", r.finished_at AS "finishedAt", coalesce(r.config_hash, res.config_hash) AS "configHash", r.worker,
            res.summary, res.config, res.core_version AS "coreVersion", res.contract, res.git_revision AS "gitRevision",
            res.generator, r.reused,
            CASE WHEN r.reused THEN NULL ELSE coalesce(r.duration_ms, res.duration_ms) END AS "durationMs", res.trajectory
     FROM runs r JOIN sweeps s ON s.id = r.sweep_id LEFT JOIN results res ON res.id = r.result_id
     WHERE r.id = $1::bigint AND ${teamCondition('$2', 's.team_id')}`,
    [id, visibleTeam(vis)],
  );
  return rows[0] ?? null;
}
