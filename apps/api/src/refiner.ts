// The stage driver of adaptive (refine) sweeps. A stage ends when none of the sweep's
// runs is queued or running; the refiner then reads the outcomes so far, asks the
// spec's plan for the next stage's points and adds them as new run rows of the same
// sweep (indexes fixed by their lattice coordinates) with their jobs, through the same
// queue, workers, storage and dedup as any sweep; or, when no cell asks for more (or
// the budget or the finest level is reached), it sets refine_done and finishes the sweep.
//
// Triggers: the end of every run job (BullMQ's event stream; the job id starts with
// the sweep id), the end of the starting grid's enqueue, and a periodic rescan that
// also repairs a stage whose rows were added but whose jobs were not (a crash between
// the two). Every step is guarded by the sweep's stage in one conditional UPDATE, so
// two API instances driving the same sweep never add a stage twice.
import type pg from 'pg';
import { QueueEvents, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { FastifyBaseLogger } from 'fastify';
import { compileSweep, readOutcome, type CompiledSweep, type PointValues } from '@curation/sweep-spec';
import {
  finishRefine, finishSweepIfDone, getRefineState, hasUnfinishedRuns, insertStage, isRefineSweep, labelStartRuns, markStageJobs,
  refineSweepsToCheck, runOutcomes, stageIndexes,
} from '@curation/db';
import { createRedis, RUNS_QUEUE } from '@curation/queue';
import { costOf, jobsFor, maxJobIndexes, packBatches } from './batches.ts';

export interface RefinerOptions {
  pool: pg.Pool;
  queue: Queue;
  log: FastifyBaseLogger;
  /** For the job-event stream (a blocking connection of its own); none: rescans only. */
  redisUrl?: string;
  prefix: string;
  rescanMs?: number;
}

/** Jobs a refinement stage is cut into, at most (fewer when it has fewer runs). */
const STAGE_JOBS = 64;

/**
 * Indexes per job of a stage of `count` runs (the starting grid's included). A stage
 * ends at a barrier (the next one needs all its outcomes), so its jobs are small: the
 * workers then finish together instead of one of them running the last large job alone.
 */
export function stageJobIndexes(count: number): number {
  return Math.max(1, Math.min(maxJobIndexes(count), Math.ceil(count / STAGE_JOBS)));
}

type Refined = CompiledSweep & { refine: NonNullable<CompiledSweep['refine']> };

/** The outcome of every point so far (aggregated over its runs), and how many runs there are. */
export function pointValues(compiled: Refined, runs: { index: number; value: unknown }[]): PointValues {
  const plan = compiled.refine;
  const byPoint = new Map<number, (number | null)[]>();
  for (const r of runs) {
    const { key } = plan.lattice.runPoint(r.index);
    const v = r.value === null || r.value === undefined ? null : readOutcome(r.value, []);
    const list = byPoint.get(key);
    if (list) list.push(v);
    else byPoint.set(key, [v]);
  }
  const values: PointValues = new Map();
  for (const [key, list] of byPoint) values.set(key, plan.aggregate(list));
  return values;
}

/** Lattice coordinates of runs, for their `cell` column. */
export function cellsOf(compiled: Refined, indexes: number[]): [number, number | null][] {
  const lat = compiled.refine.lattice;
  return indexes.map((i) => {
    const [x, y] = lat.coords(lat.runPoint(i).key);
    return [x, lat.dims === 2 ? y : null];
  });
}

export class Refiner {
  private readonly pool: pg.Pool;
  private readonly queue: Queue;
  private readonly log: FastifyBaseLogger;
  private readonly redisUrl?: string;
  private readonly prefix: string;
  private readonly rescanMs: number;
  private readonly isRefine = new Map<string, boolean>();
  private readonly compiled = new Map<string, Refined>();
  private readonly active = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private events: QueueEvents | undefined;
  private eventsConn: Redis | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(o: RefinerOptions) {
    this.pool = o.pool;
    this.queue = o.queue;
    this.log = o.log;
    this.redisUrl = o.redisUrl;
    this.prefix = o.prefix;
    this.rescanMs = o.rescanMs ?? 30_000;
  }

  start(): void {
    if (this.closed || this.timer) return;
    if (this.redisUrl) {
      this.eventsConn = createRedis(this.redisUrl, { forWorker: true });
      // The same outage the app's own connection reports at warn.
      this.eventsConn.on('error', (err) => this.log.debug({ err }, 'refiner: job events connection error'));
      this.events = new QueueEvents(RUNS_QUEUE, { connection: this.eventsConn, prefix: this.prefix });
      this.events.on('error', (err) => this.log.debug({ err }, 'refiner: job events error'));
      const onJob = ({ jobId }: { jobId: string }) => {
        const sweepId = jobId.split(':')[0];
        if (sweepId) this.kick(sweepId);
      };
      this.events.on('completed', onJob);
      this.events.on('failed', onJob);
    }
    void this.rescan();
    this.timer = setInterval(() => void this.rescan(), this.rescanMs);
    this.timer.unref();
  }

  async rescan(): Promise<void> {
    try {
      for (const id of await refineSweepsToCheck(this.pool)) {
        this.isRefine.set(id, true);
        this.kick(id);
      }
    } catch (err) {
      this.log.warn({ err }, 'refiner: could not list adaptive sweeps; will retry');
    }
  }

  /** Looks at a sweep (no-op for ordinary sweeps); runs of one sweep are looked at one at a time. */
  kick(id: string): void {
    if (this.closed || this.isRefine.get(id) === false) return;
    if (this.active.has(id)) {
      this.again.add(id);
      return;
    }
    const p = this.step(id)
      .catch((err) => this.log.error({ err, sweepId: id }, 'refiner: stage step failed; the rescan retries'))
      .finally(() => {
        this.active.delete(id);
        if (this.again.delete(id)) this.kick(id);
      });
    this.active.set(id, p);
  }

  async idle(): Promise<void> {
    while (this.active.size) await Promise.allSettled([...this.active.values()]);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.idle();
    if (this.events && this.eventsConn) {
      // QueueEvents.close first waits for its connection to be ready, which never happens
      // while Redis is down (a connection ended between reconnects never says so either):
      // then there is no event stream to stop, and ending the connection is all there is to do.
      const ready = this.eventsConn.status === 'ready';
      const closing = this.events.close().catch(() => {});
      if (ready) await closing;
      this.eventsConn.disconnect();
    }
  }

  private async step(id: string): Promise<void> {
    if (!this.isRefine.has(id)) {
      const yes = await isRefineSweep(this.pool, id);
      this.isRefine.set(id, yes);
      if (this.isRefine.size > 10_000) this.isRefine.delete(this.isRefine.keys().next().value as string);
      if (!yes) return;
    }
    const st = await getRefineState(this.pool, id);
    if (!st || st.done || (st.status !== 'queued' && st.status !== 'running')) return;
    let compiled = this.compiled.get(id);
    if (!compiled) {
      compiled = compileSweep(st.spec) as Refined;
      this.compiled.set(id, compiled);
      if (this.compiled.size > 64) this.compiled.delete(this.compiled.keys().next().value as string);
    }
    if (st.jobsStage < st.stage) {
      await this.addJobs(id, compiled, await stageIndexes(this.pool, id, st.stage));
      await markStageJobs(this.pool, id, st.stage);
      return;
    }
    if (st.enqueued < st.total) return; // the starting grid is still being enqueued
    if (await hasUnfinishedRuns(this.pool, id)) return;

    const started = Date.now();
    const plan = compiled.refine;
    const runs = await runOutcomes(this.pool, id, plan.outcome.segs);
    const unlabelled = runs.filter((r) => r.stage === null).map((r) => r.index);
    await labelStartRuns(this.pool, id, unlabelled, cellsOf(compiled, unlabelled));
    const next = plan.nextStage(pointValues(compiled, runs), runs.length);
    if (next.keys.length === 0) {
      if (await finishRefine(this.pool, id, st.stage)) {
        this.log.info({ sweepId: id, stage: st.stage, runs: runs.length }, 'refiner: refinement done');
      }
      await finishSweepIfDone(this.pool, id);
      this.compiled.delete(id);
      return;
    }
    const indexes: number[] = [];
    for (const key of next.keys) for (let f = 0; f < plan.lattice.fixed; f++) indexes.push(plan.lattice.runIndex(key, f));
    const params = indexes.map((i) => JSON.stringify(compiled.paramsAt(i)));
    if (!(await insertStage(this.pool, id, st.stage, { indexes, params, cells: cellsOf(compiled, indexes) }))) return;
    await this.addJobs(id, compiled, indexes);
    await markStageJobs(this.pool, id, st.stage + 1);
    this.log.info(
      {
        sweepId: id, stage: st.stage + 1, cells: next.cells, candidates: next.candidates, added: indexes.length,
        runs: runs.length + indexes.length, ms: Date.now() - started,
      },
      'refiner: stage added',
    );
  }

  /** Jobs of one stage, packed by the indexes' estimated cost; deterministic, so adding them again is a no-op while they wait. */
  private async addJobs(id: string, compiled: Refined, indexes: number[]): Promise<void> {
    if (!indexes.length) return;
    await this.queue.addBulk(jobsFor(id, packBatches((i) => costOf(compiled, i), indexes, stageJobIndexes(indexes.length))));
  }
}
