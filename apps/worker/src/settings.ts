// Worker settings from the environment (docs/service-design.md, "Settings"). Parsed in
// one place so a typo in a number fails at start-up instead of mid-sweep.
import os from 'node:os';
import { databaseUrl, numberSetting } from '@curation/db';
import { queuePrefix, redisUrl, workerMaxRunMemoryBytes } from '@curation/queue';

export interface WorkerSettings {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  concurrency: number;
  jobsPerThread: number;
  runTimeoutSeconds: number;
  shutdownGraceSeconds: number;
  /** BullMQ lock: renewed every lockDuration/2 by the main thread while threads compute. */
  lockDurationMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
  /** RESULT_CACHE_SCOPE: `team` (a run reuses only results its own team's runs produced) or `global`. */
  cacheScope: 'team' | 'global';
  /** WORKER_DEAD_AFTER_MS: a worker whose heartbeat is older is dead (its running runs are requeued). */
  deadAfterMs: number;
  /** RECONCILE_INTERVAL_MS: between two passes of the reconciler (0: never in this process). */
  reconcileIntervalMs: number;
  /** WORKER_MAX_RUN_MEMORY_MB, in bytes: the most memory one run may need (the API refuses bigger ones at submission). */
  maxRunMemoryBytes: number;
  /** WORKER_DB_CLIENT: the client of the per-run statements, `pg` (default) or `prisma` (Prisma Client's raw queries on the same pool). */
  dbClient: 'pg' | 'prisma';
  logLevel: string;
}

export const DEFAULTS = {
  jobsPerThread: 2,
  runTimeoutSeconds: 600,
  shutdownGraceSeconds: 30,
  // The main thread only does I/O and renews the lock every lockDuration/2, so a short
  // lock is safe; a job of a dead worker then comes back within lock + stall check.
  lockDurationMs: 20_000,
  stalledIntervalMs: 10_000,
  // A job is only failed for stalling after several worker deaths in a row: a host
  // that is killed (deploy, OOM, spot reclaim) should not cost anyone their runs.
  maxStalledCount: 5,
  cacheScope: 'team' as 'team' | 'global',
  dbClient: 'pg' as 'pg' | 'prisma',
  // Heartbeats every fifth of it: only a process stopped or cut off for seconds misses five.
  deadAfterMs: 6000,
  reconcileIntervalMs: 3000,
};

export function readSettings(env: NodeJS.ProcessEnv = process.env): WorkerSettings {
  const lockDurationMs = numberSetting(env, 'WORKER_LOCK_DURATION_MS', DEFAULTS.lockDurationMs, { integer: true, min: 1000 });
  return {
    databaseUrl: env.DATABASE_URL ? env.DATABASE_URL : databaseUrl(),
    redisUrl: env.REDIS_URL ? env.REDIS_URL : redisUrl(),
    prefix: env.QUEUE_PREFIX ? env.QUEUE_PREFIX : queuePrefix(),
    concurrency: numberSetting(env, 'WORKER_CONCURRENCY', os.availableParallelism(), { integer: true, min: 1 }),
    jobsPerThread: numberSetting(env, 'WORKER_JOBS_PER_THREAD', DEFAULTS.jobsPerThread, { integer: true, min: 1 }),
    runTimeoutSeconds: numberSetting(env, 'RUN_TIMEOUT_SECONDS', DEFAULTS.runTimeoutSeconds, { min: 0.001 }),
    shutdownGraceSeconds: numberSetting(env, 'SHUTDOWN_GRACE_SECONDS', DEFAULTS.shutdownGraceSeconds, { min: 0 }),
    lockDurationMs,
    stalledIntervalMs: numberSetting(env, 'WORKER_STALLED_INTERVAL_MS', DEFAULTS.stalledIntervalMs, { integer: true, min: 500 }),
    maxStalledCount: numberSetting(env, 'WORKER_MAX_STALLED_COUNT', DEFAULTS.maxStalledCount, { integer: true, min: 0 }),
    cacheScope: cacheScope(env.RESULT_CACHE_SCOPE),
    deadAfterMs: numberSetting(env, 'WORKER_DEAD_AFTER_MS', DEFAULTS.deadAfterMs, { integer: true, min: 500 }),
    reconcileIntervalMs: numberSetting(env, 'RECONCILE_INTERVAL_MS', DEFAULTS.reconcileIntervalMs, { integer: true, min: 0 }),
    maxRunMemoryBytes: workerMaxRunMemoryBytes(env),
    dbClient: dbClient(env.WORKER_DB_CLIENT),
    logLevel: env.LOG_LEVEL || 'info',
  };
}

function cacheScope(raw: string | undefined): 'team' | 'global' {
  if (raw === undefined || raw.trim() === '') return DEFAULTS.cacheScope;
  const v = raw.trim().toLowerCase();
  if (v !== 'team' && v !== 'global') throw new Error(`RESULT_CACHE_SCOPE must be "team" or "global" (got "${raw}")`);
  return v;
}

function dbClient(raw: string | undefined): 'pg' | 'prisma' {
  if (raw === undefined || raw.trim() === '') return DEFAULTS.dbClient;
  const v = raw.trim().toLowerCase();
  if (v !== 'pg' && v !== 'prisma') throw new Error(`WORKER_DB_CLIENT must be "pg" or "prisma" (got "${raw}")`);
  return v;
}
