// Run and sweep state transitions done by workers (docs/service-design.md, "Running").
// Every transition is one conditional statement, so a duplicate delivery, a stalled
// job redelivered to a second worker or a retry can never store a run twice or move
// a finished run backwards: whoever loses the race updates zero rows.
import type pg from 'pg';

type Queryable = Pick<pg.Pool, 'query'>;

export interface Claim {
  /** The sweep's status as the claim found it (before a first claim starts it); undefined: the sweep is gone. */
  sweepStatus: string | undefined;
  /** The claimed indexes, ascending. None when the sweep is cancelled or gone. */
  indexes: number[];
}

/**
 * Claims the runs of `indexes` that are queued, or running on behalf of a worker that
 * died (its job was redelivered), unless the sweep is cancelled or gone, and marks the
 * sweep started on its first claim. The sweep's status comes back with the claim, so
 * a job costs one round trip before its work instead of two.
 */
export async function claimRuns(db: Queryable, sweepId: string, indexes: number[], workerId: string): Promise<Claim> {
  const { rows } = await db.query<{ sweep_status: string | null; indexes: number[] }>(
    `WITH s AS (SELECT status FROM sweeps WHERE id = $1),
     claimed AS (
       UPDATE runs SET status = 'running', attempts = attempts + 1, started_at = now(), finished_at = NULL,
                       error = NULL, worker = $3
        WHERE sweep_id = $1 AND index = ANY($2::int[]) AND status IN ('queued', 'running')
          AND EXISTS (SELECT 1 FROM s WHERE s.status <> 'cancelled')
        RETURNING index
     ), started AS (
       UPDATE sweeps SET status = 'running', started_at = COALESCE(started_at, now())
        WHERE id = $1 AND status = 'queued' AND EXISTS (SELECT 1 FROM claimed)
        RETURNING 1
     )
     SELECT (SELECT status FROM s) AS sweep_status,
            COALESCE((SELECT array_agg(index ORDER BY index) FROM claimed), '{}') AS indexes`,
    [sweepId, indexes, workerId],
  );
  return { sweepStatus: rows[0].sweep_status ?? undefined, indexes: rows[0].indexes };
}

/** Of `sweepIds`, those that are cancelled (or gone): the worker's fallback when a pub/sub message is missed. */
export async function stoppedSweeps(db: Queryable, sweepIds: string[]): Promise<string[]> {
  if (sweepIds.length === 0) return [];
  const { rows } = await db.query<{ id: string }>(
    `SELECT s.id FROM unnest($1::uuid[]) AS s(id)
      WHERE NOT EXISTS (SELECT 1 FROM sweeps w WHERE w.id = s.id AND w.status <> 'cancelled')`,
    [sweepIds],
  );
  return rows.map((r) => r.id);
}

export interface RunSuccess { index: number; resultId: string; configHash: string }

/** Links finished runs to their results. Only runs still `running` move (a cancel that won stays cancelled). */
export async function finishRunsSucceeded(db: Queryable, sweepId: string, runs: RunSuccess[]): Promise<number> {
  if (runs.length === 0) return 0;
  const res = await db.query(
    `UPDATE runs r SET status = 'succeeded', result_id = u.result_id, config_hash = u.config_hash,
                       finished_at = now(), error = NULL
       FROM unnest($2::int[], $3::bigint[], $4::text[]) AS u(index, result_id, config_hash)
      WHERE r.sweep_id = $1 AND r.index = u.index AND r.status = 'running'`,
    [sweepId, runs.map((r) => r.index), runs.map((r) => r.resultId), runs.map((r) => r.configHash)],
  );
  return res.rowCount ?? 0;
}

export interface RunFailure { index: number; error: string; configHash?: string | null }

export async function finishRunsFailed(db: Queryable, sweepId: string, runs: RunFailure[]): Promise<number> {
  if (runs.length === 0) return 0;
  const res = await db.query(
    `UPDATE runs r SET status = 'failed', error = u.error, config_hash = COALESCE(u.config_hash, r.config_hash),
                       result_id = NULL, finished_at = now()
       FROM unnest($2::int[], $3::text[], $4::text[]) AS u(index, error, config_hash)
      WHERE r.sweep_id = $1 AND r.index = u.index AND r.status = 'running'`,
    [sweepId, runs.map((r) => r.index), runs.map((r) => r.error), runs.map((r) => r.configHash ?? null)],
  );
  return res.rowCount ?? 0;
}

/**
 * Cancels the given runs if, and only if, the sweep is cancelled at this moment.
 * Returns how many runs it cancelled, or null when the sweep is not cancelled (any
 * more): a retry that landed between the cancel and us must not be undone. The
 * sweep row is locked first (FOR SHARE), the order the API's cancel and retry use
 * (FOR UPDATE), so a concurrent retry either waits for us or we see its result.
 */
export async function cancelRunsIfSweepCancelled(db: Queryable, sweepId: string, indexes: number[]): Promise<number | null> {
  const { rows } = await db.query<{ cancelled: string; n: number }>(
    `WITH s AS (SELECT id, status FROM sweeps WHERE id = $1 FOR SHARE),
     upd AS (
       UPDATE runs SET status = 'cancelled', finished_at = now()
        WHERE sweep_id = $1 AND index = ANY($2::int[]) AND status IN ('queued', 'running')
          AND EXISTS (SELECT 1 FROM s WHERE s.status = 'cancelled')
        RETURNING 1
     )
     SELECT (SELECT status FROM s) AS cancelled, (SELECT count(*)::int FROM upd) AS n`,
    [sweepId, indexes],
  );
  return rows[0]?.cancelled === 'cancelled' ? rows[0].n : null;
}

/** Shutdown hand-back: the runs go back to `queued` for whichever worker gets the job next. */
export async function requeueRuns(db: Queryable, sweepId: string, indexes: number[]): Promise<number> {
  if (indexes.length === 0) return 0;
  const res = await db.query(
    `UPDATE runs SET status = 'queued', started_at = NULL, worker = NULL
      WHERE sweep_id = $1 AND index = ANY($2::int[]) AND status = 'running'`,
    [sweepId, indexes],
  );
  return res.rowCount ?? 0;
}

/** A job that used up its attempts: whatever it did not finish becomes `failed` with the reason. */
export async function failUnfinishedRuns(db: Queryable, sweepId: string, indexes: number[], reason: string): Promise<number> {
  if (indexes.length === 0) return 0;
  const res = await db.query(
    `UPDATE runs SET status = 'failed', error = $3, finished_at = now()
      WHERE sweep_id = $1 AND index = ANY($2::int[]) AND status IN ('queued', 'running')`,
    [sweepId, indexes, reason],
  );
  return res.rowCount ?? 0;
}

/**
 * Sets the sweep's final status once nothing is left to do. One conditional UPDATE:
 * when several workers finish the last runs together, the row lock makes the others
 * re-check `status IN ('queued','running')` and update nothing. Returns the new
 * status, or undefined when the sweep is not finished (or someone else finished it).
 */
export async function finishSweepIfDone(db: Queryable, sweepId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ status: string }>(
    `UPDATE sweeps s
        SET status = CASE WHEN EXISTS (SELECT 1 FROM runs r WHERE r.sweep_id = s.id AND r.status <> 'succeeded')
                          THEN 'failed' ELSE 'succeeded' END,
            finished_at = now()
      WHERE s.id = $1 AND s.status IN ('queued', 'running') AND s.enqueued >= s.total
        AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.sweep_id = s.id AND r.status IN ('queued', 'running'))
      RETURNING s.status`,
    [sweepId],
  );
  return rows[0]?.status;
}
