// The worker: a BullMQ Worker on the `runs` queue whose jobs compute in a thread pool
// and store into Postgres. BullMQ takes `jobsPerThread` jobs per pool thread, and the
// pool computes them one after the other (pool.ts), so one job's claim, preparation
// and stores overlap another's computing, while the main thread only does I/O (and
// keeps the job locks renewed).
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { Queue, Worker, WaitingError, type Job } from 'bullmq';
import pino, { type Logger } from 'pino';
import {
  createPool, DEAD_AFTER_MS, failUnfinishedRuns, finishSweepIfDone, heartbeat, isDatabaseUnavailable, prismaQueryableFor, removeWorker,
} from '@curation/db';
import { assertNoEviction, createRedis, RUNS_QUEUE, workerMaxRunMemoryBytes, type RunBatchJob } from '@curation/queue';
import { startCancelListener } from './cancel-listener.ts';
import { gitRevision } from './git-revision.ts';
import { createComputePool } from './pool.ts';
import { processJob, type JobDeps, type JobReport } from './process-job.ts';
import { Reconciler } from './reconciler.ts';
import { waitOutDatabaseOutage } from './db-outage.ts';
import { DEFAULTS } from './settings.ts';
import { InFlight } from './stop-flag.ts';
import { SweepCache } from './sweep-cache.ts';

export interface StartWorkerOptions {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  concurrency?: number;
  /** Jobs in hand per pool thread (default 2): while one stores or claims, another computes. */
  jobsPerThread?: number;
  runTimeoutSeconds?: number;
  shutdownGraceSeconds?: number;
  workerId?: string;
  logger?: Logger;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  maxStalledCount?: number;
  /** How often sweeps with runs in hand are re-checked for a cancel in Postgres. */
  cancelPollMs?: number;
  /** RESULT_CACHE_SCOPE (default team). */
  cacheScope?: 'team' | 'global';
  /** WORKER_DEAD_AFTER_MS: a worker whose heartbeat is older is dead; heartbeats every fifth of it. */
  deadAfterMs?: number;
  /** RECONCILE_INTERVAL_MS; 0 = this process never reconciles. */
  reconcileIntervalMs?: number;
  /** WORKER_MAX_RUN_MEMORY_MB in bytes (default workerMaxRunMemoryBytes()). */
  maxRunMemoryBytes?: number;
  /** Recorded with every result (default gitRevision(): GIT_REVISION, else git rev-parse HEAD). */
  gitRevision?: string;
  /** WORKER_DB_CLIENT: `pg` (default) or `prisma` for the statements of every job. */
  dbClient?: 'pg' | 'prisma';
}

export interface RunningWorker {
  readonly id: string;
  readonly reconciler: Reconciler | undefined;
  /** Graceful: stop taking jobs, let jobs in hand finish within the grace period, then hand the rest back. */
  close(): Promise<void>;
}

/**
 * The per-task statements are prepared once per connection (see run-lifecycle.ts); a
 * generic plan spares planning them at each call. Left to the default, Postgres keeps
 * planning the claim anew, its custom plan being estimated cheaper. Set as a startup
 * option of each connection, in the URL, next to whatever options it has.
 */
export function withGenericPlans(databaseUrl: string): string {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    return databaseUrl; // not a URL (pg reads it as it is): plans stay Postgres's choice
  }
  const options = url.searchParams.get('options');
  url.searchParams.set('options', `${options ? `${options} ` : ''}-c plan_cache_mode=force_generic_plan`);
  return url.toString();
}

function isRunBatchJob(data: unknown): data is RunBatchJob {
  const d = data as RunBatchJob;
  return typeof d?.sweepId === 'string' && Array.isArray(d.indexes) && d.indexes.every((i) => Number.isInteger(i));
}

export async function startWorker(opts: StartWorkerOptions): Promise<RunningWorker> {
  const logger = opts.logger ?? pino({ level: process.env.LOG_LEVEL || 'info' });
  const id = opts.workerId ?? `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const concurrency = opts.concurrency ?? os.availableParallelism();
  const graceMs = (opts.shutdownGraceSeconds ?? DEFAULTS.shutdownGraceSeconds) * 1000;

  const connection = createRedis(opts.redisUrl, { forWorker: true });
  connection.on('error', (err) => logger.warn({ err }, 'redis connection error'));
  try {
    await assertNoEviction(connection);
  } catch (err) {
    connection.disconnect();
    throw err;
  }

  // Enough connections for every job in hand to store while the cancel poll runs.
  const jobsInHand = concurrency * (opts.jobsPerThread ?? DEFAULTS.jobsPerThread);
  const db = createPool(withGenericPlans(opts.databaseUrl), jobsInHand + 3);
  db.on('error', (err) => logger.warn({ err }, 'postgres: an idle connection failed'));
  const deadAfterMs = opts.deadAfterMs ?? DEAD_AFTER_MS;
  // Registered before taking any job: a claim names this worker, and a worker without a
  // heartbeat is taken for dead.
  await heartbeat(db, id);
  let healthySince = Date.now();
  let beatFailed = false;
  const beat = setInterval(() => {
    heartbeat(db, id).then(() => {
      if (beatFailed) healthySince = Date.now();
      beatFailed = false;
    }, (err: unknown) => {
      beatFailed = true;
      logger.warn({ err }, 'heartbeat failed');
    });
  }, Math.max(100, Math.floor(deadAfterMs / 5)));
  beat.unref();
  const pool = createComputePool(concurrency);
  const inFlight = new InFlight(() => pool.dropStopped());
  const deps: JobDeps = {
    db: opts.dbClient === 'prisma' ? prismaQueryableFor(db) : db,
    pool,
    sweeps: new SweepCache(db),
    workerId: id,
    runTimeoutMs: (opts.runTimeoutSeconds ?? DEFAULTS.runTimeoutSeconds) * 1000,
    gitRevision: opts.gitRevision ?? gitRevision(),
    logger,
    cacheScope: opts.cacheScope ?? DEFAULTS.cacheScope,
    deadAfterMs,
    maxRunMemoryBytes: opts.maxRunMemoryBytes ?? workerMaxRunMemoryBytes(),
  };
  const cancels = await startCancelListener({
    redisUrl: opts.redisUrl, prefix: opts.prefix, pool: db, inFlight, logger, pollMs: opts.cancelPollMs,
  });

  const worker = new Worker<RunBatchJob>(
    RUNS_QUEUE,
    async (job: Job<RunBatchJob>, token?: string) => {
      if (!isRunBatchJob(job.data)) throw new Error(`malformed job payload: ${JSON.stringify(job.data).slice(0, 200)}`);
      const control = inFlight.add(job.data.sweepId);
      try {
        let report: JobReport;
        for (;;) {
          try {
            report = await processJob(deps, job.data, control);
            break;
          } catch (err) {
            // Postgres unreachable: keep the job (and this slot) until it answers again
            // instead of failing it, see db-outage.ts. Every step of processJob is idempotent.
            if (!isDatabaseUnavailable(err)) throw err;
            logger.warn({ jobId: job.id, sweepId: job.data.sweepId, err }, 'Postgres unreachable: holding the job until it answers');
            if (!(await waitOutDatabaseOutage(db, () => control.stopReason !== undefined))) {
              // Stopping (shutdown, or a cancel) while Postgres is down: hand the job back
              // untouched; its runs left `running` are claimed again by whoever takes it.
              await job.moveToWait(token);
              logger.info({ jobId: job.id, sweepId: job.data.sweepId }, 'job handed back to the queue (Postgres unreachable)');
              throw new WaitingError();
            }
            logger.info({ jobId: job.id, sweepId: job.data.sweepId }, 'Postgres answers again: processing the job again');
          }
        }
        if (report.handBack) {
          // Back to `wait` without using an attempt; WaitingError tells BullMQ the job
          // was moved on purpose, so it neither completes nor fails it.
          await job.moveToWait(token);
          logger.info({ jobId: job.id, sweepId: job.data.sweepId }, 'job handed back to the queue');
          throw new WaitingError();
        }
        return report;
      } finally {
        inFlight.delete(control);
      }
    },
    {
      connection,
      prefix: opts.prefix,
      concurrency: jobsInHand,
      lockDuration: opts.lockDurationMs ?? DEFAULTS.lockDurationMs,
      stalledInterval: opts.stalledIntervalMs ?? DEFAULTS.stalledIntervalMs,
      maxStalledCount: opts.maxStalledCount ?? DEFAULTS.maxStalledCount,
      // Keep finished jobs around for a while (inspection, and deterministic ids make a
      // resumed enqueue a no-op), but not forever.
      removeOnComplete: { age: 24 * 3600, count: 100_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
      name: id,
    },
  );
  worker.on('error', (err) => logger.error({ err }, 'worker error'));
  worker.on('failed', (job, err) => {
    if (!job || !isRunBatchJob(job.data)) return;
    const final = Boolean(job.finishedOn) || job.attemptsMade >= (job.opts.attempts ?? 1);
    logger.warn({ jobId: job.id, sweepId: job.data.sweepId, attemptsMade: job.attemptsMade, final, err }, 'job failed');
    if (!final) return;
    const reason = `job failed after ${job.attemptsMade} attempt(s): ${err.message}`.slice(0, 2000);
    void (async () => {
      // Postgres may be what failed the job: keep trying while it is unreachable, or
      // these runs would stay `queued` with no job left to run them.
      for (let attempt = 0; ; attempt++) {
        try {
          await failUnfinishedRuns(db, job.data.sweepId, job.data.indexes, reason, id, deadAfterMs);
          await finishSweepIfDone(db, job.data.sweepId);
          return;
        } catch (e) {
          if (!isDatabaseUnavailable(e) || attempt >= 100) throw e;
          await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** attempt)));
        }
      }
    })().catch((e: unknown) => logger.error({ jobId: job.id, err: e }, 'could not mark the runs of a failed job'));
  });
  await worker.waitUntilReady();

  const reconcileMs = opts.reconcileIntervalMs ?? DEFAULTS.reconcileIntervalMs;
  let producer: Queue<RunBatchJob> | undefined;
  let reconciler: Reconciler | undefined;
  if (reconcileMs > 0) {
    // Its own connection that fails fast: a pass during a Redis outage gives up and the next one tries again.
    // Same Redis as the worker's connection, which reports an outage at warn: here at debug.
    const conn = createRedis(opts.redisUrl);
    conn.on('error', (err) => logger.debug({ err }, 'reconciler redis connection error'));
    producer = new Queue<RunBatchJob>(RUNS_QUEUE, { connection: conn, prefix: opts.prefix });
    producer.on('error', (err) => logger.debug({ err }, 'reconciler queue error'));
    reconciler = new Reconciler({
      workerId: id, db, queue: producer, sweeps: deps.sweeps, logger, intervalMs: reconcileMs, deadAfterMs,
      healthySince: () => healthySince,
    });
    reconciler.start();
  }
  logger.info({ workerId: id, threads: pool.size, jobsInHand, prefix: opts.prefix }, 'worker started');

  let closing: Promise<void> | undefined;
  return {
    id,
    reconciler,
    close() {
      closing ??= (async () => {
        logger.info({ jobsInHand: inFlight.size, graceSeconds: graceMs / 1000 }, 'worker closing');
        const grace = setTimeout(() => {
          if (inFlight.size) logger.warn({ jobsInHand: inFlight.size }, 'grace period over: handing the remaining runs back');
          inFlight.stopAll('shutdown');
        }, graceMs);
        try {
          await reconciler?.close();
          await worker.close();
        } finally {
          clearTimeout(grace);
          clearInterval(beat);
          // Every run in hand was finished or handed back: nothing of ours stays `running`.
          await removeWorker(db, id).catch(() => {});
          await producer?.close().catch(() => {});
          await cancels.close();
          await pool.destroy();
          await db.end();
          // BullMQ only closes connections it created; this one is ours.
          await connection.quit().catch(() => connection.disconnect());
          logger.info('worker closed');
        }
      })();
      return closing;
    },
  };
}
