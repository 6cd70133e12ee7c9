// Background enqueue of submitted sweeps (docs/service-design.md, Submission step 5).
// A sweep is answered as soon as its row exists; here, chunk by chunk, its run rows are
// inserted, its jobs added with deterministic ids, and `sweeps.enqueued` advanced. Every
// step is idempotent, so a chunk interrupted by a crash is simply done again by the next
// instance that picks the sweep up (at start-up, or by the periodic rescan). A per-sweep
// advisory lock keeps two API instances from enqueueing the same sweep at once.
import type pg from 'pg';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { FastifyBaseLogger } from 'fastify';
import { FULL_VALIDATION_MAX, compileSweep, type CompiledSweep } from '@curation/sweep-spec';
import {
  advanceEnqueued, cancelQueuedRunsChunk, compactRunCounts, finishSweepIfDone, getEnqueueState, insertRunChunk, insertRunRange, sweepsToCancel,
  sweepsToCompact, sweepsToEnqueue, tryLockSweep, unlockSweep,
} from '@curation/db';
import { costOf, jobsFor, maxJobIndexes, packBatches } from './batches.ts';
import { redisReady } from './redis-ready.ts';
import { stageJobIndexes } from './refiner.ts';

export interface EnqueuerOptions {
  pool: pg.Pool;
  queue: Queue;
  /** The queue's connection: BullMQ waits forever for a first connection, so we check it ourselves. */
  redis: Redis;
  log: FastifyBaseLogger;
  /** Indexes per chunk when Node builds the run rows (adaptive sweeps, or params too irregular for rangeChunkSize); a multiple of 100 keeps chunk boundaries at batch boundaries. */
  chunkSize?: number;
  /** Indexes per chunk when Postgres builds the run rows (generate_series); a multiple of 100 (default: chunkSize if given, else 20,000). */
  rangeChunkSize?: number;
  /** How often to look for sweeps left half-enqueued by an instance that died (ms). */
  rescanMs?: number;
  /** Sweeps enqueued at once; each holds one pooled connection for its lock. */
  concurrency?: number;
  /** Called once a sweep is fully enqueued (adaptive sweeps: the refiner looks whether its stage is over). */
  onEnqueued?: (id: string) => void;
}

export class Enqueuer {
  private readonly pool: pg.Pool;
  private readonly queue: Queue;
  private readonly redis: Redis;
  private readonly log: FastifyBaseLogger;
  private readonly chunkSize: number;
  private readonly rangeChunkSize: number;
  private readonly rescanMs: number;
  private readonly concurrency: number;
  private readonly onEnqueued?: (id: string) => void;
  private readonly active = new Map<string, Promise<void>>();
  private readonly waiting: string[] = [];
  private readonly again = new Set<string>();
  private scan: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly sleepers = new Set<() => void>();
  /** Cancelled sweeps whose queued rows are being rewritten (one pass each at a time). */
  private readonly cancelling = new Map<string, Promise<void>>();
  private readonly cancelAgain = new Set<string>();
  /** Per-configuration cost estimates from the submission's validation, until the sweep is enqueued. */
  private readonly costs = new Map<string, Float64Array>();

  constructor(o: EnqueuerOptions) {
    this.pool = o.pool;
    this.queue = o.queue;
    this.redis = o.redis;
    this.log = o.log;
    this.chunkSize = o.chunkSize ?? 5000;
    this.rangeChunkSize = o.rangeChunkSize ?? o.chunkSize ?? 20_000;
    this.rescanMs = o.rescanMs ?? 10_000;
    this.concurrency = o.concurrency ?? 2;
    this.onEnqueued = o.onEnqueued;
  }

  /** Resumes unfinished enqueues now and every rescanMs. */
  start(): void {
    if (this.closed || this.timer) return;
    // rescan() logs its own failures and never rejects.
    void this.rescan();
    this.timer = setInterval(() => void this.rescan(), this.rescanMs);
    this.timer.unref();
  }

  rescan(): Promise<void> {
    this.scan = sweepsToEnqueue(this.pool)
      .then((ids) => ids.forEach((id) => this.kick(id)))
      .then(() => sweepsToCancel(this.pool))
      .then((ids) => ids.forEach((id) => this.cancelRuns(id)))
      // Counter rows of sweeps nobody polls pile up too (listing, analyst reads).
      .then(() => sweepsToCompact(this.pool))
      .then((ids) => compactRunCounts(this.pool, ids))
      .catch((err) => this.log.warn({ err }, 'enqueuer: could not list unfinished sweeps; will retry'));
    return this.scan;
  }

  /**
   * Writes `cancelled` into the queued rows of a cancelled sweep, chunk by chunk, in the
   * background (cancel itself only marks the sweep; until then they read as cancelled).
   * Stops when none is left or a retry reopened the sweep; a pass cut short by a restart
   * is resumed by the rescan. Concurrent passes (two instances) are harmless: each chunk
   * rewrites only rows still queued.
   */
  cancelRuns(id: string): void {
    if (this.closed) return;
    if (this.cancelling.has(id)) {
      this.cancelAgain.add(id); // cancelled again after a retry: start over from the first index
      return;
    }
    const p = (async () => {
      let after = -1;
      for (let attempt = 0; !this.closed;) {
        try {
          const chunk = await cancelQueuedRunsChunk(this.pool, id, after);
          if (!chunk?.n) return;
          after = chunk.last;
          attempt = 0;
        } catch (err) {
          const delay = Math.min(30_000, 500 * 2 ** attempt++);
          this.log.warn({ err, sweepId: id, delay }, 'enqueuer: cancelling queued runs failed, retrying');
          await this.sleep(delay);
        }
      }
    })().finally(() => {
      this.cancelling.delete(id);
      if (this.cancelAgain.delete(id)) this.cancelRuns(id);
    });
    this.cancelling.set(id, p);
  }

  /**
   * Enqueues what remains of a sweep (no-op when done, cancelled, or handled elsewhere).
   * `costs`: the per-configuration estimates the submission already computed.
   */
  kick(id: string, costs?: Float64Array): void {
    if (this.closed) return;
    if (costs) this.costs.set(id, costs);
    if (this.active.has(id)) {
      this.again.add(id); // a retry may have reopened it while we were finishing
      return;
    }
    if (this.active.size >= this.concurrency) {
      if (!this.waiting.includes(id)) this.waiting.push(id);
      return;
    }
    const p = this.drain(id)
      .catch((err) => this.log.error({ err, sweepId: id }, 'enqueuer: gave up on sweep'))
      .finally(() => {
        this.costs.delete(id);
        this.active.delete(id);
        if (this.again.delete(id)) this.kick(id);
        const next = this.waiting.shift();
        if (next) this.kick(next);
      });
    this.active.set(id, p);
  }

  /** Resolves when no enqueue is running or waiting (tests, shutdown). */
  async idle(): Promise<void> {
    await this.scan;
    while (this.active.size || this.waiting.length || this.cancelling.size) {
      await Promise.allSettled([...this.active.values(), ...this.cancelling.values()]);
    }
  }

  /** Stops after the chunk in hand; what is left is resumed by the next instance. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.waiting.length = 0;
    for (const wake of this.sleepers) wake();
    await this.scan;
    await Promise.allSettled([...this.active.values(), ...this.cancelling.values()]);
  }

  /** Retries infrastructure failures with backoff until done or closed. */
  private async drain(id: string): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        await this.lockedEnqueue(id);
        return;
      } catch (err) {
        if (err instanceof SpecUnusable) throw err;
        const delay = Math.min(30_000, 500 * 2 ** attempt);
        this.log.warn({ err, sweepId: id, attempt, delay }, 'enqueuer: chunk failed, retrying');
        await this.sleep(delay);
      }
    }
  }

  private async lockedEnqueue(id: string): Promise<void> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      if (!(await tryLockSweep(client, id))) return; // another instance has it
      try {
        await this.enqueue(client, id);
      } finally {
        await unlockSweep(client, id).catch(() => { broken = true; });
      }
    } catch (err) {
      broken = true;
      throw err;
    } finally {
      // A client whose unlock may not have happened must not go back to the pool holding the lock.
      client.release(broken);
    }
  }

  private async enqueue(client: pg.PoolClient, id: string): Promise<void> {
    const state = await getEnqueueState(client, id);
    if (!state || state.status === 'cancelled' || state.enqueued >= state.total) return;
    let compiled: CompiledSweep;
    try {
      compiled = compileSweep(state.spec);
    } catch (err) {
      throw new SpecUnusable(`stored spec of sweep ${id} no longer compiles: ${(err as Error).message}`);
    }
    const started = Date.now();
    // Estimates per configuration: from the submission in this process, else again from
    // the core. A sweep validated by a sample (more than FULL_VALIDATION_MAX) has none:
    // its jobs are cut from its mean estimate, and its runs carry no cost of their own
    // (budgets count the sweep's mean for them, teams.ts). Decided from the spec alone,
    // so a resumed enqueue packs the same jobs with the same ids.
    const known = this.costs.get(id);
    const perRun = known || compiled.refine || state.total <= FULL_VALIDATION_MAX;
    const mean = state.total > 0 ? state.estimatedCostSeconds / state.total : 0;
    const cost = known ? (i: number) => known[i] : perRun ? (i: number) => costOf(compiled, i) : () => mean;
    // Postgres builds the rows from the axis values when the params have that shape.
    const layout = compiled.refine ? null : (compiled.paramsLayout?.() ?? null);
    const chunkSize = layout ? this.rangeChunkSize : this.chunkSize;
    const jobIndexes = compiled.refine ? stageJobIndexes(state.total) : maxJobIndexes(state.total);
    // Postgres-built chunks go two at a time, the second on a connection of its own: a
    // chunk's insert is CPU in Postgres (the heap, index entries and their WAL).
    const width = layout ? 2 : 1;
    let start = state.enqueued;
    let next = start; // where the next rows start; `start` is what `enqueued` says
    // The jobs of one round go to Redis while the next round's rows are inserted.
    let jobs: Promise<boolean> = Promise.resolve(true);
    while (next < state.total && !this.closed) {
      // Chunk ends are multiples of chunkSize whatever `enqueued` we resumed from.
      const chunks: number[][] = [];
      for (let from = next; chunks.length < width && from < state.total;) {
        const end = Math.min(state.total, (Math.floor(from / chunkSize) + 1) * chunkSize);
        chunks.push(Array.from({ length: end - from }, (_, k) => from + k));
        from = end;
      }
      await redisReady(this.redis, 5000); // no rows for jobs we could not add anyway
      // Settled, not raced: a failed chunk must not leave the other still using the locked client.
      const [settled, open] = await Promise.all([
        Promise.allSettled(chunks.map((indexes, k) => this.withClient(k === 0 ? client : null, (c) => {
          // Each run keeps its estimate: a cancelled sweep is charged for the runs it computed (teams.ts).
          const costs = perRun ? indexes.map(cost) : undefined;
          return layout
            ? insertRunRange(c, id, indexes[0], indexes[0] + indexes.length, layout, costs)
            : insertRunChunk(c, id, indexes, indexes.map((i) => paramsJson(compiled, i)), costs);
        }))),
        jobs,
      ]);
      const failed = settled.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      if (!open || settled.some((r) => r.status === 'fulfilled' && !r.value)) return; // cancelled meanwhile
      next = chunks[chunks.length - 1][chunks[chunks.length - 1].length - 1] + 1;
      jobs = (async () => {
        for (const indexes of chunks) {
          // Job size from the sweep's total, never from where we resumed: same ids on resume.
          await this.queue.addBulk(jobsFor(id, packBatches(cost, indexes, jobIndexes)));
          // Only once rows and jobs exist for everything below it.
          const end = indexes[indexes.length - 1] + 1;
          const status = await advanceEnqueued(this.pool, id, end);
          if (status === null || status === 'cancelled') return false;
          start = end;
        }
        return true;
      })();
      // A failure of the jobs is thrown where it is awaited (next round, or below).
      jobs.catch(() => {});
    }
    if (!(await jobs)) return;
    if (start >= state.total) {
      // Workers finish a sweep after their last job, but only once it is fully enqueued:
      // when they were faster than the last `advanceEnqueued`, finishing falls to us.
      await finishSweepIfDone(client, id);
      this.onEnqueued?.(id);
      this.log.info({ sweepId: id, total: state.total, ms: Date.now() - started }, 'enqueuer: sweep fully enqueued');
    }
  }

  /** Runs fn on `client`, or on a connection of the pool for the time of the call. */
  private async withClient<T>(client: pg.PoolClient | null, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    if (client) return fn(client);
    const c = await this.pool.connect();
    try {
      return await fn(c);
    } finally {
      c.release();
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => { clearTimeout(t); this.sleepers.delete(wake); resolve(); };
      const t = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }
}

/**
 * The params of run i as JSON. A configuration the submission's sample did not check may
 * have a derive that is not finite (paramsAt throws); its run still gets a row, with no
 * params, and the worker fails it with the reason when it rebuilds the configuration.
 */
function paramsJson(compiled: CompiledSweep, i: number): string {
  try {
    return JSON.stringify(compiled.paramsAt(i));
  } catch {
    return '{}';
  }
}

/** A sweep whose spec cannot be compiled any more (e.g. after an incompatible upgrade): retrying cannot help. */
class SpecUnusable extends Error {}
