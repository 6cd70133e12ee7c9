// Drives an adaptive sweep's refiner without workers: the caller plays the workers,
// finishing queued runs a batch at a time with synthetic outcomes, and kicks the
// refiner after each batch as a job's completion would. For the restart and retry
// tests of the refiner and for measuring the refiner's own CPU per sweep (nothing
// else runs in the process while it steps).
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Queue } from 'bullmq';
import type { FastifyBaseLogger } from 'fastify';
import { compileSweep, type CompiledSweep, type PointValues } from '@curation/sweep-spec';
import { insertSweep } from '@curation/db';
import { Refiner } from '../../apps/api/src/refiner.ts';

export type Refined = CompiledSweep & { refine: NonNullable<CompiledSweep['refine']> };

/** A refiner on `pool` whose jobs go nowhere (the driver plays the workers) and that logs nothing. */
export function quietRefiner(pool: pg.Pool, o: { maxRestMs?: number } = {}): Refiner {
  const noop = () => {};
  const log = { debug: noop, info: noop, warn: noop, error: noop, trace: noop, fatal: noop, child: () => log, level: 'silent', silent: noop };
  const queue = { addBulk: async () => [] } as unknown as Queue;
  return new Refiner({ pool, queue, log: log as unknown as FastifyBaseLogger, prefix: 'unused', ...o });
}

/** Inserts an adaptive sweep and its starting grid's runs, as the API and the enqueuer would. */
export async function insertRefineSweep(pool: pg.Pool, spec: object): Promise<{ id: string; compiled: Refined }> {
  const compiled = compileSweep(spec) as Refined;
  const id = randomUUID();
  const total = compiled.total;
  await insertSweep(pool, { id, name: 'refine-drive', tags: [], spec, total, coreVersion: 'test', idempotencyKey: null, teamId: null });
  const indexes = Array.from({ length: total }, (_, i) => i);
  await pool.query(
    `INSERT INTO runs (sweep_id, index, params, cost_seconds) SELECT $1, u.i, u.p, 0.01 FROM unnest($2::int[], $3::jsonb[]) AS u(i, p)`,
    [id, indexes, indexes.map((i) => JSON.stringify(compiled.paramsAt(i)))]);
  await pool.query(`UPDATE sweeps SET enqueued = total, status = 'running', started_at = now() WHERE id = $1`, [id]);
  return { id, compiled };
}

/** Finishes runs `indexes` of a sweep: succeeded with summary `summary(index)`, or failed where that is null. */
export async function finishRuns(pool: pg.Pool, id: string, indexes: number[], summary: (index: number) => object | null): Promise<void> {
  // Asked once per run: `summary` may answer differently the next time (a retried run).
  const summaries = indexes.map(summary);
  const ok = indexes.filter((_, k) => summaries[k] !== null);
  const failed = indexes.filter((_, k) => summaries[k] === null);
  const of = new Map(indexes.map((i, k) => [i, summaries[k]]));
  if (ok.length) {
    await pool.query(
      `WITH res AS (
         INSERT INTO results (config_hash, core_version, git_revision, config, summary, trajectory, converged, collapsed,
                              surviving_basins, final_entropy, duration_ms)
         SELECT $1 || ':' || u.i || ':' || gen_random_uuid(), 'test', 'test', '{}', u.s, '\\x', true, coalesce((u.s->>'collapsed')::boolean, false), 1, 0, 1
           FROM unnest($2::int[], $3::jsonb[]) AS u(i, s)
         RETURNING id, config_hash)
       UPDATE runs r SET status = 'succeeded', result_id = res.id, finished_at = now(), error = NULL
         FROM res WHERE r.sweep_id = $4 AND r.index = split_part(res.config_hash, ':', 2)::int`,
      [id, ok, ok.map((i) => JSON.stringify(of.get(i))), id]);
  }
  if (failed.length) {
    await pool.query(
      `UPDATE runs SET status = 'failed', error = 'injected', finished_at = now() WHERE sweep_id = $1 AND index = ANY($2::int[])`,
      [id, failed]);
  }
}

export async function queuedRuns(pool: pg.Pool, id: string): Promise<number[]> {
  const { rows } = await pool.query<{ index: number }>(
    `SELECT index FROM runs WHERE sweep_id = $1 AND status = 'queued' ORDER BY id`, [id]);
  return rows.map((r) => r.index);
}

/**
 * The stage-synchronous rule run in-process on the outcomes `value` gives (point key ->
 * outcome, as the plan aggregates them): run index -> the stage that adds it.
 */
export function synchronousStages(compiled: Refined, value: (key: number) => number | null): Map<number, number> {
  const plan = compiled.refine;
  const lat = plan.lattice;
  const values: PointValues = new Map();
  const out = new Map<number, number>();
  let keys = lat.startKeys();
  let runs = 0;
  for (let stage = 0; keys.length; stage++) {
    for (const key of keys) {
      values.set(key, value(key));
      for (let f = 0; f < lat.fixed; f++) out.set(lat.runIndex(key, f), stage);
    }
    runs += keys.length * lat.fixed;
    keys = plan.nextStage(values, runs).keys;
  }
  return new Map([...out].sort((a, b) => a[0] - b[0]));
}

export interface DriveOptions {
  /** Runs finished per batch (a job's worth). */
  batch?: number;
  /** Called before each batch with its number; may replace the refiner (a restart) or act on the sweep. */
  before?: (batch: number) => Promise<void> | void;
}

/**
 * Plays the workers until the sweep is finished: each batch finishes the oldest queued
 * runs (in the order they were inserted, as their jobs were queued) and kicks the
 * refiner, awaiting its step (not one it puts off while plenty is queued: the workers
 * do not wait for those either; they are awaited once nothing is queued). Returns the
 * process's CPU over the kicks and steps awaited (microseconds: the refiner's own CPU
 * when it puts nothing off, maxRestMs 0) and the batches.
 */
export async function driveSweep(
  pool: pg.Pool, id: string, refiner: () => Refiner, summary: (index: number) => object | null, o: DriveOptions = {},
): Promise<{ cpuMicros: number; batches: number }> {
  const batch = o.batch ?? 10;
  let cpuMicros = 0;
  const step = async () => {
    const r = refiner();
    const t = process.cpuUsage();
    r.kick(id);
    await r.idle({ resting: false });
    const d = process.cpuUsage(t);
    cpuMicros += d.user + d.system;
  };
  await step(); // the end of the starting grid's enqueue
  for (let n = 0; ; n++) {
    await o.before?.(n);
    const queued = await queuedRuns(pool, id);
    if (!queued.length) {
      await refiner().idle();
      await step();
      const { rows } = await pool.query<{ status: string }>('SELECT status FROM sweeps WHERE id = $1', [id]);
      if (rows[0].status !== 'running' || !(await queuedRuns(pool, id)).length) return { cpuMicros, batches: n };
      continue;
    }
    await finishRuns(pool, id, queued.slice(0, batch), summary);
    await step();
  }
}
