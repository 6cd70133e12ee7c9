// Bookkeeping of adaptive (refine) sweeps: the state the refiner reads, the outcomes
// of the runs so far, and the conditional statements that add a stage or end the
// refinement. Each transition is guarded by the sweep's refine_stage, so when two
// processes try the same step one of them updates nothing and stops.
import type pg from 'pg';
import type { Queryable } from './queryable.ts';
import type { SweepStatus } from './sweeps.ts';

export interface RefineState {
  spec: unknown;
  status: SweepStatus;
  total: number;
  enqueued: number;
  stage: number;
  jobsStage: number;
  done: boolean;
}

/** The refine state of a sweep, or null when it is not an adaptive sweep (or does not exist). */
export async function getRefineState(db: Queryable, sweepId: string): Promise<RefineState | null> {
  const { rows } = await db.query<RefineState>(
    `SELECT spec, status, total, enqueued, refine_stage AS stage, refine_jobs_stage AS "jobsStage", refine_done AS done
       FROM sweeps WHERE id = $1 AND spec ? 'refine'`,
    [sweepId],
  );
  return rows[0] ?? null;
}

/** True when the sweep is adaptive (false for ordinary and unknown sweeps). */
export async function isRefineSweep(db: Queryable, sweepId: string): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>(`SELECT spec ? 'refine' AS ok FROM sweeps WHERE id = $1`, [sweepId]);
  return rows[0]?.ok === true;
}

/** True while some run of the sweep is queued or running. */
export async function hasUnfinishedRuns(db: Queryable, sweepId: string): Promise<boolean> {
  const { rows } = await db.query<{ busy: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM runs WHERE sweep_id = $1 AND status IN ('queued', 'running')) AS busy`,
    [sweepId],
  );
  return rows[0].busy;
}

export interface RunOutcome {
  index: number;
  status: SweepStatus;
  stage: number | null;
  /** The summary field at the outcome's path (JSON value), null unless the run succeeded. */
  value: unknown;
}

/** Every run of the sweep with the value of one summary field (`segs`: the path below summary). */
export async function runOutcomes(db: Queryable, sweepId: string, segs: readonly string[]): Promise<RunOutcome[]> {
  const { rows } = await db.query<RunOutcome>(
    `SELECT r.index, r.status, r.stage, CASE WHEN r.status = 'succeeded' THEN res.summary #> $2::text[] END AS value
       FROM runs r LEFT JOIN results res ON res.id = r.result_id
      WHERE r.sweep_id = $1
      ORDER BY r.index`,
    [sweepId, segs],
  );
  return rows;
}

/** Lattice coordinates of each run (one entry per refine axis). */
export interface StageRuns {
  indexes: number[];
  params: string[];
  /** [ix, iy] (iy null for one axis), aligned with indexes. */
  cells: [number, number | null][];
}

/**
 * Adds stage `from + 1`: moves the sweep from stage `from` to the next, growing `total`
 * and `enqueued` by the new runs, and inserts their rows, in one transaction. Nothing
 * happens (false) when the sweep is no longer at stage `from`, is done refining, or is
 * cancelled or finished: someone else advanced it, or it stopped. The row lock of the
 * UPDATE orders this against a cancel, which then finds the new rows and cancels them.
 */
export async function insertStage(pool: pg.Pool, sweepId: string, from: number, runs: StageRuns): Promise<boolean> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const n = runs.indexes.length;
    const upd = await c.query(
      `UPDATE sweeps SET refine_stage = $2 + 1, total = total + $3, enqueued = enqueued + $3
        WHERE id = $1 AND refine_stage = $2 AND NOT refine_done AND status IN ('queued', 'running')`,
      [sweepId, from, n],
    );
    if (!upd.rowCount) {
      await c.query('ROLLBACK');
      return false;
    }
    await c.query(
      `INSERT INTO runs (sweep_id, index, params, stage, cell)
       SELECT $1, u.i, u.p, $2 + 1, CASE WHEN u.y IS NULL THEN ARRAY[u.x] ELSE ARRAY[u.x, u.y] END
         FROM unnest($3::int[], $4::jsonb[], $5::int[], $6::int[]) AS u(i, p, x, y)
       ON CONFLICT (sweep_id, index) DO NOTHING`,
      [sweepId, from, runs.indexes, runs.params, runs.cells.map((x) => x[0]), runs.cells.map((x) => x[1])],
    );
    await c.query('COMMIT');
    return true;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}

/** Labels the starting grid's runs (inserted by the ordinary enqueuer) with stage 0 and their cells. */
export async function labelStartRuns(db: Queryable, sweepId: string, indexes: number[], cells: [number, number | null][]): Promise<void> {
  if (!indexes.length) return;
  await db.query(
    `UPDATE runs r SET stage = 0, cell = CASE WHEN u.y IS NULL THEN ARRAY[u.x] ELSE ARRAY[u.x, u.y] END
       FROM unnest($2::int[], $3::int[], $4::int[]) AS u(i, x, y)
      WHERE r.sweep_id = $1 AND r.index = u.i AND r.stage IS NULL`,
    [sweepId, indexes, cells.map((x) => x[0]), cells.map((x) => x[1])],
  );
}

/** Indexes of the runs a stage added, ascending. */
export async function stageIndexes(db: Queryable, sweepId: string, stage: number): Promise<number[]> {
  const { rows } = await db.query<{ index: number }>(
    'SELECT index FROM runs WHERE sweep_id = $1 AND stage = $2 ORDER BY index',
    [sweepId, stage],
  );
  return rows.map((r) => r.index);
}

/** Records that the jobs of `stage` are in the queue. */
export async function markStageJobs(db: Queryable, sweepId: string, stage: number): Promise<void> {
  await db.query('UPDATE sweeps SET refine_jobs_stage = GREATEST(refine_jobs_stage, $2) WHERE id = $1', [sweepId, stage]);
}

/** The refiner's last word: no stage follows `stage`. True for the one caller that set it. */
export async function finishRefine(db: Queryable, sweepId: string, stage: number): Promise<boolean> {
  const res = await db.query(
    'UPDATE sweeps SET refine_done = true WHERE id = $1 AND refine_stage = $2 AND NOT refine_done',
    [sweepId, stage],
  );
  return (res.rowCount ?? 0) > 0;
}

/** Adaptive sweeps that may be waiting for the refiner: open, fully enqueued, not done refining. */
export async function refineSweepsToCheck(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM sweeps
      WHERE spec ? 'refine' AND NOT refine_done AND status IN ('queued', 'running') AND enqueued >= total
      ORDER BY created_at`,
  );
  return rows.map((r) => r.id);
}

export interface RefineProgress {
  stage: number;
  done: boolean;
  budget: number | null;
}

/** Stage, done and budget of adaptive sweeps among `sweepIds` (ordinary sweeps are absent). */
export async function refineProgress(db: Queryable, sweepIds: string[]): Promise<Map<string, RefineProgress>> {
  const out = new Map<string, RefineProgress>();
  if (!sweepIds.length) return out;
  const { rows } = await db.query<RefineProgress & { id: string }>(
    `SELECT id, refine_stage AS stage, refine_done AS done, (spec #>> '{refine,budget}')::int AS budget
       FROM sweeps WHERE id = ANY($1::uuid[]) AND spec ? 'refine'`,
    [sweepIds],
  );
  for (const r of rows) out.set(r.id, { stage: r.stage, done: r.done, budget: r.budget });
  return out;
}
