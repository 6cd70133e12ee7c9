// Bookkeeping of adaptive (refine) sweeps: the state the refiner reads, the outcomes
// of the runs so far, and the conditional statements that add runs or end the
// refinement. Each transition is guarded by the sweep's run count (total, which only
// the refiner grows once the starting grid is enqueued), so when two processes try
// the same step one of them updates nothing and stops.
// The refiner runs these on the pg pool: through Prisma they cost more than the service's 5% (docs/service-design.md, "Hot paths on pg").
import type { Queryable } from './queryable.ts';
import type { SweepStatus } from './sweeps.ts';

export interface RefineState {
  spec: unknown;
  status: SweepStatus;
  total: number;
  enqueued: number;
  stage: number;
  done: boolean;
}

/** The refine state of a sweep, or null when it is not an adaptive sweep (or does not exist). */
export async function getRefineState(db: Queryable, sweepId: string): Promise<RefineState | null> {
  const { rows } = await db.query<RefineState>(
    `SELECT spec, status, total, enqueued, refine_stage AS stage, refine_done AS done
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

export interface RefineChanges {
  status: SweepStatus;
  total: number;
  enqueued: number;
  stage: number;
  done: boolean;
  /** Of the runs asked about: how many are queued. */
  queued: number;
  /** Of the runs asked about, those not queued: [index, status, value] (value as in runOutcomes). */
  runs: [number, SweepStatus, unknown][];
}

/**
 * The refiner's incremental read: the sweep's state and, of the runs `indexes` (those
 * whose outcome may still change: every run not succeeded), the current status and
 * outcome, in one statement and one snapshot. Null when the sweep is not adaptive.
 */
export async function refineChanges(db: Queryable, sweepId: string, indexes: number[], segs: readonly string[]): Promise<RefineChanges | null> {
  // Named: a step runs it after nearly every job, so each connection plans it once.
  const { rows } = await db.query<RefineChanges>({
    name: 'cs_refine_changes',
    text: `SELECT s.status, s.total, s.enqueued, s.refine_stage AS stage, s.refine_done AS done, w.queued, w.runs
       FROM sweeps s, LATERAL (
         SELECT count(*) FILTER (WHERE r.status = 'queued')::int AS queued,
                coalesce(json_agg(json_build_array(r.index, r.status,
                  CASE WHEN r.status = 'succeeded' THEN res.summary #> $3::text[] END)) FILTER (WHERE r.status <> 'queued'), '[]') AS runs
           FROM runs r LEFT JOIN results res ON res.id = r.result_id
          WHERE r.sweep_id = $1 AND r.index = ANY($2::int[])) w
      WHERE s.id = $1 AND s.spec ? 'refine'`,
    values: [sweepId, indexes, segs],
  });
  return rows[0] ?? null;
}

/** New runs of an adaptive sweep, aligned arrays. */
export interface StageRuns {
  indexes: number[];
  params: string[];
  /** [ix, iy] (iy null for one axis): the run's point on the finest lattice. */
  cells: [number, number | null][];
  /** The stage of the rule that asks for each run's point. */
  stages: number[];
  /** The core's estimate of each run (cost_seconds, as the enqueuer records for the starting grid). */
  costs: number[];
}

/**
 * Adds runs to an adaptive sweep that has `expectedTotal` runs: grows `total` and
 * `enqueued` by them, sets refine_stage to `stage` (the highest stage among all its
 * runs, these included) and inserts their rows, in one transaction. Nothing happens (false) when the
 * sweep no longer has `expectedTotal` runs, is done refining, or is cancelled or
 * finished: someone else added runs meanwhile, or it stopped. The row lock of the
 * UPDATE orders this against a cancel, which then finds the new rows and cancels them.
 */
export async function insertStage(db: Queryable, sweepId: string, expectedTotal: number, stage: number, runs: StageRuns): Promise<boolean> {
  // One statement: the rows go in only when the guarded UPDATE took the sweep's row.
  const { rows } = await db.query<{ added: boolean }>(
    `WITH upd AS (
       UPDATE sweeps SET refine_stage = $3, total = total + $4, enqueued = enqueued + $4
        WHERE id = $1 AND total = $2 AND enqueued >= total AND NOT refine_done AND status IN ('queued', 'running')
        RETURNING id),
     ins AS (
       INSERT INTO runs (sweep_id, index, params, stage, cell, cost_seconds)
       SELECT upd.id, u.i, u.p, u.s, CASE WHEN u.y IS NULL THEN ARRAY[u.x] ELSE ARRAY[u.x, u.y] END, u.c
         FROM upd, unnest($5::int[], $6::jsonb[], $7::int[], $8::int[], $9::int[], $10::float8[]) AS u(i, p, s, x, y, c)
       ON CONFLICT (sweep_id, index) DO NOTHING)
     SELECT EXISTS (SELECT 1 FROM upd) AS added`,
    [sweepId, expectedTotal, stage, runs.indexes.length, runs.indexes, runs.params, runs.stages,
      runs.cells.map((x) => x[0]), runs.cells.map((x) => x[1]), runs.costs],
  );
  return rows[0].added;
}

/**
 * Sets the stage (and lattice point) of existing runs where it differs: the starting
 * grid's runs (inserted by the ordinary enqueuer, stage NULL) and runs whose point the
 * rule now asks for at an earlier stage.
 */
export async function labelRuns(db: Queryable, sweepId: string, indexes: number[], stages: number[], cells: [number, number | null][]): Promise<void> {
  if (!indexes.length) return;
  await db.query(
    `UPDATE runs r SET stage = u.s, cell = CASE WHEN u.y IS NULL THEN ARRAY[u.x] ELSE ARRAY[u.x, u.y] END
       FROM unnest($2::int[], $3::int[], $4::int[], $5::int[]) AS u(i, s, x, y)
      WHERE r.sweep_id = $1 AND r.index = u.i AND r.stage IS DISTINCT FROM u.s`,
    [sweepId, indexes, stages, cells.map((x) => x[0]), cells.map((x) => x[1])],
  );
}

/** Sets refine_stage (the highest stage of the sweep's runs) while the sweep still has `expectedTotal` runs. */
export async function setRefineStage(db: Queryable, sweepId: string, expectedTotal: number, stage: number): Promise<void> {
  await db.query(
    'UPDATE sweeps SET refine_stage = $3 WHERE id = $1 AND total = $2 AND refine_stage <> $3',
    [sweepId, expectedTotal, stage],
  );
}

/** The refiner's last word: no run follows the `expectedTotal` the sweep has. True for the one caller that set it. */
export async function finishRefine(db: Queryable, sweepId: string, expectedTotal: number): Promise<boolean> {
  const res = await db.query(
    'UPDATE sweeps SET refine_done = true WHERE id = $1 AND total = $2 AND NOT refine_done',
    [sweepId, expectedTotal],
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
