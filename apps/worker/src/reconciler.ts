// The reconciler (docs/service-design.md, "Recovery"): Postgres is the source of truth,
// Redis only carries work. Every few seconds one worker process (whichever holds the
// lease in Postgres; Redis is what may have lost its memory) compares the two:
//  - runs `running` on behalf of a worker whose heartbeat stopped go back to `queued`
//    (or `cancelled` in a cancelled sweep);
//  - queued runs of open sweeps that no live job carries get new jobs. A job carries a
//    run when it names it and waits (wait, delayed, prioritized, paused) or is active in
//    a worker whose heartbeat is fresh. A run missing from every job is only taken for
//    lost when two passes in a row find it so: between an enqueuer's insert of run rows
//    and its addBulk, or a retry's commit and its jobs, a run briefly has no job;
//  - open sweeps with nothing left to do are finished (their last worker died first).
// A run re-added by mistake costs nothing: claims and finishes are conditional.
import type pg from 'pg';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { validateConfig } from '@curation/core';
import {
  DEAD_AFTER_MS, finishIdleSweeps, holdReconcilerLease, liveWorkers, pruneWorkers, queuedRunsOfOpenSweeps,
  releaseReconcilerLease, releaseRunsOfDeadWorkers,
} from '@curation/db';
import { batchJobId, RUN_JOB_DEFAULTS, RUN_JOB_NAME, type RunBatchJob } from '@curation/queue';
import type { SweepCache } from './sweep-cache.ts';

/** Job states in which a job still carries its runs (active ones only while their worker lives). */
const WAITING_STATES = ['wait', 'paused', 'delayed', 'prioritized', 'waiting-children'] as const;
/** Estimated compute per re-added job, and most indexes per job (workers share a sweep job by job). */
const TARGET_JOB_SECONDS = 1;
const MAX_JOB_INDEXES = 25;
const PRUNE_EVERY_MS = 3600_000;

export interface ReconcilerOptions {
  /** This worker's id: the lease's holder. */
  workerId: string;
  // The pass runs on pg: through Prisma its statements cost more than the service's 5% (docs/service-design.md, "Hot paths on pg").
  db: pg.Pool;
  queue: Queue<RunBatchJob>;
  sweeps: SweepCache;
  logger: Logger;
  /** Between two passes (RECONCILE_INTERVAL_MS). */
  intervalMs?: number;
  /** A worker silent this long is dead (WORKER_DEAD_AFTER_MS). */
  deadAfterMs?: number;
  /**
   * Since when this process has reached Postgres without a failure (its heartbeats):
   * after an outage every heartbeat is old, so deaths are judged only once Postgres has
   * answered for a whole dead-after period. Default: since the reconciler started.
   */
  healthySince?: () => number;
}

export interface PassReport {
  /** Runs of dead workers put back to `queued`. */
  released: number;
  /** Runs no job carried, given new jobs. */
  requeued: number;
  jobs: number;
  /** Runs found without a job for the first time (re-added at the next pass if still so). */
  suspects: number;
  finishedSweeps: number;
}

export class Reconciler {
  private readonly o: Required<Omit<ReconcilerOptions, 'logger'>> & { logger: Logger };
  private leading = false;
  private suspects = new Map<string, Set<number>>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private lastPrune = 0;
  private closed = false;

  constructor(o: ReconcilerOptions) {
    const started = Date.now();
    this.o = { intervalMs: 3000, deadAfterMs: DEAD_AFTER_MS, healthySince: () => started, ...o };
  }

  /** A first pass now (a worker started to replace a dead leader takes over at once), then every interval. */
  start(): void {
    if (this.timer || this.closed) return;
    void this.tick();
    this.timer = setInterval(() => { void this.tick(); }, this.o.intervalMs);
    this.timer.unref();
  }

  /** One pass if this process is (or becomes) the leader; undefined otherwise. Never throws. */
  tick(): Promise<PassReport | undefined> {
    const run = this.running.then(async () => {
      if (this.closed) return undefined;
      try {
        if (!(await this.lead())) return undefined;
        return await this.pass();
      } catch (err) {
        this.o.logger.warn({ err }, 'reconciler: pass failed; next one in a few seconds');
        return undefined;
      }
    });
    this.running = run;
    return run;
  }

  /** Stops, and hands the lease over at once (otherwise the next leader waits for it to expire). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.running.catch(() => {});
    if (this.leading) await releaseReconcilerLease(this.o.db, this.o.workerId).catch(() => {});
    this.leading = false;
  }

  /** Whether the last tick found this process holding the lease. */
  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * Takes or renews the lease, for two intervals: renewed at every pass while this
   * process lives and runs; a dead or stopped leader's lease expires and the next
   * worker to tick takes it.
   */
  private async lead(): Promise<boolean> {
    const was = this.leading;
    this.leading = false;
    this.leading = await holdReconcilerLease(this.o.db, this.o.workerId, 2 * this.o.intervalMs);
    if (this.leading && !was) {
      this.suspects.clear(); // a previous leader's observations are not ours
      this.o.logger.info('reconciler: this worker leads');
    }
    return this.leading;
  }

  private async pass(): Promise<PassReport> {
    const { db, queue, logger, deadAfterMs } = this.o;
    const report: PassReport = { released: 0, requeued: 0, jobs: 0, suspects: 0, finishedSweeps: 0 };
    // After an outage of Postgres every heartbeat is old: judge deaths only once it has
    // answered this process for a whole dead-after period.
    if (Date.now() - this.o.healthySince() >= deadAfterMs) {
      const released = await releaseRunsOfDeadWorkers(db, deadAfterMs);
      report.released = released.length;
      if (released.length) logger.warn({ runs: released.length }, 'reconciler: runs of dead workers back to queued');
    }

    const queued = await queuedRunsOfOpenSweeps(db);
    const suspects = new Map<string, Set<number>>();
    if (queued.size) {
      const carried = await this.carriedRuns(new Set(queued.keys()));
      const now = Date.now();
      for (const [sweepId, indexes] of queued) {
        const c = carried.get(sweepId);
        const before = this.suspects.get(sweepId);
        const lost: number[] = [];
        const fresh = new Set<number>();
        for (const i of indexes) {
          if (c?.live.has(i)) continue;
          // Named only by jobs in hand of dead workers: nothing will run it, no race to wait out.
          if (c?.dead.has(i) || before?.has(i)) lost.push(i);
          else fresh.add(i);
        }
        if (fresh.size) suspects.set(sweepId, fresh);
        report.suspects += fresh.size;
        if (lost.length) {
          const jobs = await this.jobsFor(sweepId, lost, now);
          await queue.addBulk(jobs);
          report.requeued += lost.length;
          report.jobs += jobs.length;
          logger.warn({ sweepId, runs: lost.length, jobs: jobs.length }, 'reconciler: queued runs no job carried, enqueued again');
        }
      }
    }
    this.suspects = suspects;

    report.finishedSweeps = (await finishIdleSweeps(db)).length;
    if (Date.now() - this.lastPrune > PRUNE_EVERY_MS) {
      this.lastPrune = Date.now();
      await pruneWorkers(db);
    }
    return report;
  }

  /** Per sweep, the indexes named by jobs that will run (`live`) and by jobs active in dead workers (`dead`). */
  private async carriedRuns(sweepIds: Set<string>): Promise<Map<string, { live: Set<number>; dead: Set<number> }>> {
    const { queue, db, deadAfterMs } = this.o;
    const ofSweep = (id: string) => sweepIds.has(id.slice(0, id.indexOf(':')));
    // Active first: a job moving from wait to active in between is then seen in one of the two.
    const active = (await queue.getRanges(['active'], 0, -1)).filter(ofSweep);
    const waiting = (await queue.getRanges([...WAITING_STATES], 0, -1)).filter(ofSweep);
    const client = (await queue.client) as unknown as Redis;
    const read = async (ids: string[]) => {
      const pipe = client.pipeline();
      for (const id of ids) pipe.hmget(queue.toKey(id), 'data', 'pb'); // pb: the worker (its name, our id) that took it
      const replies = (await pipe.exec()) ?? [];
      return replies.map(([, v]) => v as [string | null, string | null]);
    };
    const activeData = await read(active);
    const waitingData = await read(waiting);
    const live = await liveWorkers(db, [...new Set(activeData.map(([, by]) => by).filter((b): b is string => !!b))], deadAfterMs);

    const out = new Map<string, { live: Set<number>; dead: Set<number> }>();
    const note = (data: string | null, alive: boolean) => {
      if (!data) return; // removed in between
      let job: RunBatchJob;
      try {
        job = JSON.parse(data) as RunBatchJob;
      } catch {
        return;
      }
      if (!sweepIds.has(job.sweepId) || !Array.isArray(job.indexes)) return;
      let entry = out.get(job.sweepId);
      if (!entry) out.set(job.sweepId, entry = { live: new Set(), dead: new Set() });
      for (const i of job.indexes) (alive ? entry.live : entry.dead).add(i);
    };
    // An active job without processedBy (taken by a worker of another version) counts as live.
    for (const [data, by] of activeData) note(data, !by || live.has(by));
    for (const [data] of waitingData) note(data, true);
    return out;
  }

  /**
   * Jobs for lost runs, packed as the API packs a submission (about a second of
   * estimated compute, at most MAX_JOB_INDEXES each). Ids derive from the sweep, the
   * first index and the pass, so a job added twice within a pass is added once.
   */
  private async jobsFor(sweepId: string, indexes: number[], passId: number) {
    const info = await this.o.sweeps.get(sweepId).catch(() => undefined);
    const cost = (i: number) => {
      if (!info) return 0;
      try {
        const r = validateConfig(info.compiled.configAt(i), { maxCostSeconds: Infinity, checkValues: false });
        return r.ok ? r.cost.seconds : 0;
      } catch {
        return 0;
      }
    };
    const batches: number[][] = [];
    let cur: number[] = [];
    let seconds = 0;
    for (const i of indexes) {
      const s = cost(i);
      if (cur.length && (cur.length >= MAX_JOB_INDEXES || seconds + s > TARGET_JOB_SECONDS)) {
        batches.push(cur);
        cur = [];
        seconds = 0;
      }
      cur.push(i);
      seconds += s;
    }
    if (cur.length) batches.push(cur);
    return batches.map((batch) => ({
      name: RUN_JOB_NAME,
      data: { sweepId, indexes: batch } satisfies RunBatchJob,
      // At the head of the queue: these runs were due long ago (a dead worker had them, or
      // their jobs vanished); behind a sweep's remaining jobs they would wait for all of them.
      opts: { ...RUN_JOB_DEFAULTS, lifo: true, jobId: batchJobId(sweepId, batch[0], `r${passId}`) },
    }));
  }
}
