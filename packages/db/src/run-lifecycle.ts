// Run and sweep state transitions done by workers (docs/service-design.md, "Running"
// and "Recovery"). Every transition is one conditional statement, so a duplicate
// delivery, a stalled job redelivered to a second worker or a retry can never store a
// run twice or move a finished run backwards: whoever loses the race updates zero rows.
//
// A claim is keyed: it records the claiming worker and bumps `attempts`, and every later
// write for that run (finish, hand-back) names both. A worker that was stopped (SIGSTOP,
// a long GC pause, a partition) while another took its runs over finds its claim gone
// and writes nothing.
//
// The statements a worker runs for every pool task or flush are named: pg prepares each
// once per connection and Postgres then reuses its plan, instead of parsing and planning
// the same text at every call (docs/service-design.md, "Per-run overhead").
// They run on the pg pool: through Prisma they would cost more than the service's 5% (docs/service-design.md, "Hot paths on pg").
import type { Queryable } from './queryable.ts';

/** A worker whose heartbeat is older than this is taken for dead: its `running` runs are computed by nobody. */
export const DEAD_AFTER_MS = 6000;

/** SQL condition: the run `r` may be claimed by worker `$w` (placeholder) with dead-after `$d` (ms, placeholder). */
const CLAIMABLE = (w: string, d: string) => `(r.status = 'queued' OR (r.status = 'running' AND (r.worker = ${w} OR NOT EXISTS (
  SELECT 1 FROM workers wk WHERE wk.id = r.worker AND wk.heartbeat_at > now() - make_interval(secs => ${d}::float8 / 1000)))))`;

export interface OpenRuns {
  /** The sweep's status; undefined: the sweep is gone. */
  sweepStatus: string | undefined;
  /** Of the asked indexes, those this worker may claim (queued, or running for itself or for a dead worker), ascending. */
  indexes: number[];
}

/**
 * Read-only: what of `indexes` is left to do for `workerId`. Runs another live worker
 * is computing are not (they are finished by that worker, or taken over once it dies).
 */
export async function openRuns(db: Queryable, sweepId: string, indexes: number[], workerId: string, deadAfterMs = DEAD_AFTER_MS): Promise<OpenRuns> {
  const { rows } = await db.query<{ sweep_status: string | null; indexes: number[] }>({
    name: 'cs_open_runs',
    text: `SELECT (SELECT status FROM sweeps WHERE id = $1) AS sweep_status,
            coalesce((SELECT array_agg(r.index ORDER BY r.index) FROM runs r
                       WHERE r.sweep_id = $1 AND r.index = ANY($2::int[]) AND ${CLAIMABLE('$3', '$4')}), '{}') AS indexes`,
    values: [sweepId, indexes, workerId, deadAfterMs],
    });
  return { sweepStatus: rows[0].sweep_status ?? undefined, indexes: rows[0].indexes };
}

export interface Claim {
  /** The sweep's status as the claim found it (before a first claim starts it); undefined: the sweep is gone. */
  sweepStatus: string | undefined;
  /** The claimed indexes, ascending. None when the sweep is cancelled or gone. */
  indexes: number[];
  /** The attempt number of each claimed run (aligned with indexes): the key of every later write. */
  attempts: number[];
}

/**
 * Claims the runs of `indexes` that are queued, or running on behalf of this worker or
 * of a dead one (no heartbeat within deadAfterMs), unless the sweep is cancelled or
 * gone, and marks the sweep started on its first claim. The sweep's status comes back
 * with the claim. Workers claim right before computing (per pool task), so `running`
 * means a thread has it in hand.
 */
export async function claimRuns(db: Queryable, sweepId: string, indexes: number[], workerId: string, deadAfterMs = DEAD_AFTER_MS): Promise<Claim> {
  const { rows } = await db.query<{ sweep_status: string | null; indexes: number[]; attempts: number[] }>({
    name: 'cs_claim_runs',
    text: `WITH s AS (SELECT status FROM sweeps WHERE id = $1),
     claimed AS (
       UPDATE runs r SET status = 'running', attempts = r.attempts + 1, started_at = now(), finished_at = NULL,
                         error = NULL, worker = $3, reused = false, duration_ms = NULL
        WHERE r.sweep_id = $1 AND r.index = ANY($2::int[]) AND ${CLAIMABLE('$3', '$4')}
          AND EXISTS (SELECT 1 FROM s WHERE s.status <> 'cancelled')
        RETURNING r.index, r.attempts
     ), started AS (
       UPDATE sweeps SET status = 'running', started_at = COALESCE(started_at, now())
        WHERE id = $1 AND status = 'queued' AND EXISTS (SELECT 1 FROM claimed)
        RETURNING 1
     )
     SELECT (SELECT status FROM s) AS sweep_status,
            COALESCE((SELECT array_agg(index ORDER BY index) FROM claimed), '{}') AS indexes,
            COALESCE((SELECT array_agg(attempts ORDER BY index) FROM claimed), '{}') AS attempts`,
    values: [sweepId, indexes, workerId, deadAfterMs],
    });
  return { sweepStatus: rows[0].sweep_status ?? undefined, indexes: rows[0].indexes, attempts: rows[0].attempts };
}

/** Of `sweepIds`, those that are cancelled (or gone): the worker's fallback when a pub/sub message is missed. */
export async function stoppedSweeps(db: Queryable, sweepIds: string[]): Promise<string[]> {
  if (sweepIds.length === 0) return [];
  const { rows } = await db.query<{ id: string }>({
    name: 'cs_stopped_sweeps',
    text: `SELECT s.id FROM unnest($1::uuid[]) AS s(id)
      WHERE NOT EXISTS (SELECT 1 FROM sweeps w WHERE w.id = s.id AND w.status <> 'cancelled')`,
    values: [sweepIds],
    });
  return rows.map((r) => r.id);
}

export interface RunSuccess {
  index: number;
  /** The claim's attempt number. */
  attempt: number;
  resultId: string;
  configHash: string;
  /** This run's own compute time; null when it was served from a stored result. */
  durationMs: number | null;
  reused: boolean;
}

/** Links finished runs to their results. Only runs still held by this claim move (a cancel or a takeover that won stays). */
export async function finishRunsSucceeded(db: Queryable, sweepId: string, workerId: string, runs: RunSuccess[]): Promise<number> {
  if (runs.length === 0) return 0;
  const res = await db.query({
    name: 'cs_finish_succeeded',
    text: `UPDATE runs r SET status = 'succeeded', result_id = u.result_id, config_hash = u.config_hash,
                       finished_at = now(), error = NULL, reused = u.reused, duration_ms = u.duration_ms
       FROM unnest($3::int[], $4::int[], $5::bigint[], $6::text[], $7::boolean[], $8::float8[])
            AS u(index, attempt, result_id, config_hash, reused, duration_ms)
      WHERE r.sweep_id = $1 AND r.index = u.index AND r.status = 'running' AND r.worker = $2 AND r.attempts = u.attempt`,
    values: [sweepId, workerId, runs.map((r) => r.index), runs.map((r) => r.attempt), runs.map((r) => r.resultId),
      runs.map((r) => r.configHash), runs.map((r) => r.reused), runs.map((r) => r.durationMs)],
    });
  return res.rowCount ?? 0;
}

export interface RunFailure { index: number; attempt: number; error: string; configHash?: string | null }

export async function finishRunsFailed(db: Queryable, sweepId: string, workerId: string, runs: RunFailure[]): Promise<number> {
  if (runs.length === 0) return 0;
  const res = await db.query({
    name: 'cs_finish_failed',
    text: `UPDATE runs r SET status = 'failed', error = u.error, config_hash = COALESCE(u.config_hash, r.config_hash),
                       result_id = NULL, finished_at = now()
       FROM unnest($3::int[], $4::int[], $5::text[], $6::text[]) AS u(index, attempt, error, config_hash)
      WHERE r.sweep_id = $1 AND r.index = u.index AND r.status = 'running' AND r.worker = $2 AND r.attempts = u.attempt`,
    values: [sweepId, workerId, runs.map((r) => r.index), runs.map((r) => r.attempt), runs.map((r) => r.error), runs.map((r) => r.configHash ?? null)],
    });
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

export interface HeldRun { index: number; attempt: number }

/** Shutdown hand-back: runs this claim still holds go back to `queued` for whichever worker gets the job next. */
export async function requeueRuns(db: Queryable, sweepId: string, workerId: string, runs: HeldRun[]): Promise<number> {
  if (runs.length === 0) return 0;
  const res = await db.query(
    `UPDATE runs r SET status = 'queued', started_at = NULL, worker = NULL
       FROM unnest($3::int[], $4::int[]) AS u(index, attempt)
      WHERE r.sweep_id = $1 AND r.index = u.index AND r.status = 'running' AND r.worker = $2 AND r.attempts = u.attempt`,
    [sweepId, workerId, runs.map((r) => r.index), runs.map((r) => r.attempt)],
  );
  return res.rowCount ?? 0;
}

/**
 * A job that used up its attempts: whatever it did not finish becomes `failed` with the
 * reason, except runs another live worker is computing (a duplicate job of theirs).
 */
export async function failUnfinishedRuns(db: Queryable, sweepId: string, indexes: number[], reason: string, workerId = '', deadAfterMs = DEAD_AFTER_MS): Promise<number> {
  if (indexes.length === 0) return 0;
  const res = await db.query(
    `UPDATE runs r SET status = 'failed', error = $3, finished_at = now()
      WHERE r.sweep_id = $1 AND r.index = ANY($2::int[]) AND ${CLAIMABLE('$4', '$5')}`,
    [sweepId, indexes, reason, workerId, deadAfterMs],
  );
  return res.rowCount ?? 0;
}

/**
 * Sets the sweep's final status once nothing is left to do. One conditional UPDATE:
 * when several workers finish the last runs together, the row lock makes the others
 * re-check `status IN ('queued','running')` and update nothing. Returns the new
 * status, or undefined when the sweep is not finished (or someone else finished it).
 * An adaptive sweep (spec.refine) finishes only once the refiner has set refine_done.
 */
export async function finishSweepIfDone(db: Queryable, sweepId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ status: string }>({
    name: 'cs_finish_sweep',
    text: `UPDATE sweeps s
        SET status = CASE WHEN EXISTS (SELECT 1 FROM runs r WHERE r.sweep_id = s.id AND r.status <> 'succeeded')
                          THEN 'failed' ELSE 'succeeded' END,
            finished_at = now()
      WHERE s.id = $1 AND s.status IN ('queued', 'running') AND s.enqueued >= s.total
        AND (s.refine_done OR NOT s.spec ? 'refine')
        AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.sweep_id = s.id AND r.status IN ('queued', 'running'))
      RETURNING s.status`,
    values: [sweepId],
    });
  return rows[0]?.status;
}

// ---- the result cache ----

/**
 * Which stored results a run may reuse (RESULT_CACHE_SCOPE): `team`, only results one
 * of its own team's runs is linked to (a team learns nothing of what others computed);
 * `global`, any stored result.
 */
export type CacheScope = { team: string | null } | 'global';

/** hash -> result id for the hashes stored under `coreVersion` that `scope` may reuse. */
export async function findReusableResults(db: Queryable, coreVersion: string, hashes: string[], scope: CacheScope): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  if (hashes.length === 0) return found;
  const unique = [...new Set(hashes)];
  const { rows } = scope === 'global'
    ? await db.query<{ id: string; config_hash: string }>({
      name: 'cs_reusable_global',
      text: 'SELECT id, config_hash FROM results WHERE core_version = $1 AND config_hash = ANY($2::text[])',
      values: [coreVersion, unique],
    })
    : await db.query<{ id: string; config_hash: string }>({
      name: 'cs_reusable_team',
      text: `SELECT res.id, res.config_hash FROM results res
        WHERE res.core_version = $1 AND res.config_hash = ANY($2::text[])
          AND EXISTS (SELECT 1 FROM runs r JOIN sweeps s ON s.id = r.sweep_id
                       WHERE r.result_id = res.id AND s.team_id IS NOT DISTINCT FROM $3::uuid)`,
      values: [coreVersion, unique, scope.team],
    });
  for (const r of rows) found.set(r.config_hash, r.id);
  return found;
}

// ---- worker liveness and the reconciler (docs/service-design.md, "Recovery") ----
// On the pg pool with the worker's statements: each is dearer through Prisma than the service's 5% allows (docs/service-design.md, "Hot paths on pg").

/** Records that the worker is alive (also its first registration). */
export async function heartbeat(db: Queryable, workerId: string): Promise<void> {
  await db.query({
    name: 'cs_heartbeat',
    text: `INSERT INTO workers (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`,
    values: [workerId],
    });
}

/** A worker that shut down cleanly (its runs were handed back) leaves the table. */
export async function removeWorker(db: Queryable, workerId: string): Promise<void> {
  await db.query('DELETE FROM workers WHERE id = $1', [workerId]);
}

/** Of `workerIds`, those with a heartbeat within deadAfterMs. */
export async function liveWorkers(db: Queryable, workerIds: string[], deadAfterMs = DEAD_AFTER_MS): Promise<Set<string>> {
  if (workerIds.length === 0) return new Set();
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM workers WHERE id = ANY($1::text[]) AND heartbeat_at > now() - make_interval(secs => $2::float8 / 1000)`,
    [workerIds, deadAfterMs],
  );
  return new Set(rows.map((r) => r.id));
}

export interface RunRef { sweepId: string; index: number }

/**
 * Runs `running` on behalf of a dead worker: back to `queued` in open sweeps,
 * `cancelled` in cancelled ones. Keyed on the dead worker's claim, so a run taken over
 * meanwhile is left alone. Returns the requeued runs.
 */
export async function releaseRunsOfDeadWorkers(db: Queryable, deadAfterMs = DEAD_AFTER_MS): Promise<RunRef[]> {
  const { rows } = await db.query<{ sweep_id: string; index: number; status: string }>(
    `WITH dead AS (
       SELECT r.id, s.status AS sweep_status FROM runs r JOIN sweeps s ON s.id = r.sweep_id
        WHERE s.status IN ('queued', 'running', 'cancelled') AND r.status = 'running'
          AND NOT EXISTS (SELECT 1 FROM workers wk WHERE wk.id = r.worker
                           AND wk.heartbeat_at > now() - make_interval(secs => $1::float8 / 1000))
        FOR UPDATE OF r SKIP LOCKED
     )
     UPDATE runs r SET status = CASE WHEN d.sweep_status = 'cancelled' THEN 'cancelled' ELSE 'queued' END,
                       started_at = CASE WHEN d.sweep_status = 'cancelled' THEN r.started_at END,
                       finished_at = CASE WHEN d.sweep_status = 'cancelled' THEN now() END,
                       worker = CASE WHEN d.sweep_status = 'cancelled' THEN r.worker END
       FROM dead d WHERE r.id = d.id AND r.status = 'running'
     RETURNING r.sweep_id, r.index, r.status`,
    [deadAfterMs],
  );
  return rows.filter((r) => r.status === 'queued').map((r) => ({ sweepId: r.sweep_id, index: r.index }));
}

/** The queued runs of every queued or running sweep, by sweep (indexes ascending). */
export async function queuedRunsOfOpenSweeps(db: Queryable): Promise<Map<string, number[]>> {
  const { rows } = await db.query<{ sweep_id: string; indexes: number[] }>(
    `SELECT r.sweep_id, array_agg(r.index ORDER BY r.index) AS indexes
       FROM sweeps s JOIN runs r ON r.sweep_id = s.id
      WHERE s.status IN ('queued', 'running') AND r.status = 'queued'
      GROUP BY r.sweep_id`,
  );
  return new Map(rows.map((r) => [r.sweep_id, r.indexes]));
}

/** Open sweeps fully enqueued with nothing queued or running: their last worker died before finishing them. */
export async function finishIdleSweeps(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT s.id FROM sweeps s
      WHERE s.status IN ('queued', 'running') AND s.enqueued >= s.total
        AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.sweep_id = s.id AND r.status IN ('queued', 'running'))`,
  );
  const done: string[] = [];
  for (const r of rows) if (await finishSweepIfDone(db, r.id)) done.push(r.id);
  return done;
}

/**
 * Takes or renews the reconciler's lease for `holder` (free, expired, or already its
 * own); true when `holder` holds it for the next `ttlMs`.
 */
export async function holdReconcilerLease(db: Queryable, holder: string, ttlMs: number): Promise<boolean> {
  const { rows } = await db.query(
    `INSERT INTO reconciler_lease (name, holder, expires_at) VALUES ('reconciler', $1, now() + make_interval(secs => $2::float8 / 1000))
     ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
      WHERE reconciler_lease.holder = EXCLUDED.holder OR reconciler_lease.expires_at < now()
     RETURNING holder`,
    [holder, ttlMs],
  );
  return rows.length > 0;
}

/** Gives the lease up (shutdown), so another worker takes over at its next pass. */
export async function releaseReconcilerLease(db: Queryable, holder: string): Promise<void> {
  await db.query(`DELETE FROM reconciler_lease WHERE name = 'reconciler' AND holder = $1`, [holder]);
}

/** Forgets workers silent for a day (their runs were released long ago). */
export async function pruneWorkers(db: Queryable): Promise<number> {
  const res = await db.query(`DELETE FROM workers WHERE heartbeat_at < now() - interval '1 day'`);
  return res.rowCount ?? 0;
}
