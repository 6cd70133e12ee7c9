// The stage driver of adaptive (refine) sweeps. The refinement rule is stage by stage
// (a stage splits every cell whose points disagree), but the driver does not wait for
// a stage to end before starting the next one: whenever runs finish it replays the
// rule over the points known so far (RefinePlan.schedule) and adds, at once, every
// point the replay asks for that has no run yet. Knowing more only adds points and
// moves them to earlier stages, so the evidence for a point never goes away, nothing
// is added twice, and once every run has finished the points and their stages are
// exactly those of the stage-synchronous rule; meanwhile a point starts as soon as the
// outcomes that ask for it are in, not when its whole previous stage has ended. Each run's `stage` is the replay's stage, kept up to date as evidence
// comes in (it can only decrease), and the sweep's refine_stage is the highest.
//
// The budget: while the points asked for fit, they are added as they come. When they
// do not, the driver waits until every run has finished and then cuts the next stage
// as the synchronous rule does (whole cells, coarsest first, spread along the
// boundary); what was added before the budget bound may differ from what the
// synchronous rule would have added by then. With nothing left to add and
// every run finished, it sets refine_done and finishes the sweep.
//
// Triggers: the end of every run job (BullMQ's event stream; the job id starts with
// the sweep id), the end of the starting grid's enqueue, and a periodic rescan. Every
// addition is one statement guarded by the sweep's run count (total), so
// two API instances driving the same sweep never add a point twice. Rows added whose
// jobs were not (a crash between the two) are given jobs by the workers' reconciler,
// like any queued run no job carries.
import type pg from 'pg';
import { QueueEvents, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { FastifyBaseLogger } from 'fastify';
import { compileSweep, readOutcome, type CompiledSweep, type PointValues } from '@curation/sweep-spec';
import {
  finishRefine, finishSweepIfDone, getRefineState, insertStage, isRefineSweep, labelRuns, refineSweepsToCheck, runOutcomes, runStatusCounts,
  setRefineStage,
} from '@curation/db';
import { createRedis, RUNS_QUEUE } from '@curation/queue';

/** Queued runs of a sweep at which a refiner step is left to a later completion (see step). */
const QUEUED_ENOUGH = 64;
import { costOf, jobsFor, maxJobIndexes, packBatches } from './batches.ts';

export interface RefinerOptions {
  // The refiner's statements go to pg: through Prisma they cost more than the service's 5% (docs/service-design.md, "Hot paths on pg").
  pool: pg.Pool;
  queue: Queue;
  log: FastifyBaseLogger;
  /** For the job-event stream (a blocking connection of its own); none: rescans only. */
  redisUrl?: string;
  prefix: string;
  rescanMs?: number;
}

/** Jobs the starting grid is cut into, at least (while they keep one index or more). */
const START_JOBS = 8;

/**
 * Indexes per job of the starting grid of `count` runs: as for any sweep, but in at
 * least START_JOBS jobs, so that the refinement starts from the first outcomes while
 * the rest of the grid computes.
 */
export function stageJobIndexes(count: number): number {
  return Math.max(1, Math.min(maxJobIndexes(count), Math.ceil(count / START_JOBS)));
}

type Refined = CompiledSweep & { refine: NonNullable<CompiledSweep['refine']> };

/** The outcome of every point so far (aggregated over its finished runs; null while none has a value). */
export function pointValues(compiled: Refined, runs: { index: number; value: unknown }[]): PointValues {
  return pointStates(compiled, runs).values;
}

const UNFINISHED = new Set(['queued', 'running']);

/**
 * The outcome of every point so far, and the points whose outcome is final (`known`:
 * every run of the point has finished, so its aggregate cannot change any more).
 */
export function pointStates(compiled: Refined, runs: { index: number; value: unknown; status?: string }[]): { values: PointValues; known: PointValues } {
  const plan = compiled.refine;
  const byPoint = new Map<number, (number | null)[]>();
  const open = new Set<number>();
  for (const r of runs) {
    const { key } = plan.lattice.runPoint(r.index);
    const v = r.value === null || r.value === undefined ? null : readOutcome(r.value, []);
    const list = byPoint.get(key);
    if (list) list.push(v);
    else byPoint.set(key, [v]);
    if (r.status !== undefined && UNFINISHED.has(r.status)) open.add(key);
  }
  const values: PointValues = new Map();
  const known: PointValues = new Map();
  for (const [key, list] of byPoint) {
    const v = plan.aggregate(list);
    values.set(key, v);
    if (!open.has(key)) known.set(key, v);
  }
  return { values, known };
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
  /** Steps taken and the time spent in them (wall, including the database), for benchmarks. */
  readonly stats = { steps: 0, ms: 0 };

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
    const t = performance.now();
    const p = this.step(id)
      .then(() => {
        this.stats.steps++;
        this.stats.ms += performance.now() - t;
      })
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
    const started = Date.now();
    let compiled = this.compiled.get(id);
    // While the workers have plenty queued, what a step would add can wait for a later
    // completion: adding it now would not start it sooner, and a step (every run read and
    // the rule replayed) takes CPU from those workers on a small machine. The completion
    // that brings the queue below this looks; so does the last one (nothing queued).
    if (compiled && ((await runStatusCounts(this.pool, [id])).get(id)?.queued ?? 0) >= QUEUED_ENOUGH) return;
    // Once the spec is known, the sweep's state and its runs are read together.
    const [st, read] = await Promise.all([
      getRefineState(this.pool, id),
      compiled ? runOutcomes(this.pool, id, compiled.refine.outcome.segs) : undefined,
    ]);
    if (!st || st.done || (st.status !== 'queued' && st.status !== 'running')) return;
    if (st.enqueued < st.total) return; // the starting grid is still being enqueued
    if (!compiled) {
      compiled = compileSweep(st.spec) as Refined;
      this.compiled.set(id, compiled);
      if (this.compiled.size > 64) this.compiled.delete(this.compiled.keys().next().value as string);
    }
    const plan = compiled.refine;
    const lat = plan.lattice;
    const runs = read ?? await runOutcomes(this.pool, id, plan.outcome.segs);
    // Runs added between the two reads (by another API instance): their completions kick a later step.
    if (runs.length !== st.total) return;
    const { known } = pointStates(compiled, runs);
    const wanted = plan.schedule(known);
    const unfinished = runs.some((r) => UNFINISHED.has(r.status));

    // Stages of the runs there are: the starting grid's are not labelled yet, and evidence may move a point to an earlier stage.
    const scheduled = new Set<number>();
    const relabel: number[] = [];
    const relabelStages: number[] = [];
    let highest = 0;
    for (const r of runs) {
      const key = lat.runPoint(r.index).key;
      scheduled.add(key);
      const stage = wanted.get(key) ?? r.stage ?? 0;
      if (stage !== r.stage) {
        relabel.push(r.index);
        relabelStages.push(stage);
      }
      highest = Math.max(highest, stage);
    }
    if (relabel.length) await labelRuns(this.pool, id, relabel, relabelStages, cellsOf(compiled, relabel));

    let keys = [...wanted.keys()].filter((k) => !scheduled.has(k));
    if (keys.length * lat.fixed > plan.budget - runs.length) {
      // Not all of it fits: wait for every outcome, then cut one stage as the synchronous rule does.
      if (unfinished) {
        if (highest !== st.stage) await setRefineStage(this.pool, id, runs.length, highest);
        return;
      }
      keys = plan.nextStage(known, runs.length).keys;
    }
    if (keys.length === 0) {
      if (highest !== st.stage) await setRefineStage(this.pool, id, runs.length, highest);
      if (unfinished) return;
      if (await finishRefine(this.pool, id, runs.length)) {
        this.log.info({ sweepId: id, stage: highest, runs: runs.length }, 'refiner: refinement done');
      }
      await finishSweepIfDone(this.pool, id);
      this.compiled.delete(id);
      return;
    }
    keys.sort((a, b) => lat.pointIndex(a) - lat.pointIndex(b));
    const indexes: number[] = [];
    const stages: number[] = [];
    for (const key of keys) {
      for (let f = 0; f < lat.fixed; f++) {
        indexes.push(lat.runIndex(key, f));
        stages.push(wanted.get(key) ?? highest + 1);
      }
    }
    for (const s of stages) highest = Math.max(highest, s);
    const costs = indexes.map((i) => costOf(compiled, i));
    const params = indexes.map((i) => JSON.stringify(compiled.paramsAt(i)));
    if (!(await insertStage(this.pool, id, runs.length, highest, { indexes, params, cells: cellsOf(compiled, indexes), stages, costs }))) return;
    const cost = new Map(indexes.map((i, k) => [i, costs[k]]));
    await this.queue.addBulk(jobsFor(id, packBatches((i) => cost.get(i) ?? 0, indexes, maxJobIndexes(indexes.length))));
    this.log.debug({ sweepId: id, stage: highest, added: indexes.length, runs: runs.length + indexes.length, ms: Date.now() - started }, 'refiner: runs added');
  }

}
