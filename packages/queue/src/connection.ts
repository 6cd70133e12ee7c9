// Redis connections for BullMQ. One default for every process so API, workers, tests
// and the demo agree; the prefix keeps deployments (and test runs) apart on one Redis.
import v8 from 'node:v8';
import { Redis, type RedisOptions } from 'ioredis';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_PREFIX = 'curation';

export function redisUrl(): string {
  return process.env.REDIS_URL || DEFAULT_REDIS_URL;
}

export function queuePrefix(): string {
  return process.env.QUEUE_PREFIX || DEFAULT_PREFIX;
}

/**
 * WORKER_MAX_RUN_MEMORY_MB: the most memory one run may need, in bytes; the API refuses
 * bigger configurations at submission and workers fail them before computing. Read by
 * both from the same variable. Default: half this process's V8 heap limit, the same on
 * API and worker hosts started with the same Node flags (a run's arrays live outside
 * the heap, but in the same process as the other threads' runs and the heap itself).
 */
export function workerMaxRunMemoryBytes(env: Record<string, string | undefined> = process.env): number {
  const raw = env.WORKER_MAX_RUN_MEMORY_MB;
  if (raw === undefined || raw.trim() === '') return Math.floor(v8.getHeapStatistics().heap_size_limit / 2);
  const mb = Number(raw);
  if (!Number.isFinite(mb) || mb <= 0) throw new Error(`WORKER_MAX_RUN_MEMORY_MB must be a number of megabytes > 0 (got "${raw}")`);
  return Math.floor(mb * 2 ** 20);
}

/**
 * A connection BullMQ can use. Workers need maxRetriesPerRequest: null (blocking
 * commands must wait out a Redis restart instead of failing); producers fail fast.
 */
export function createRedis(url = redisUrl(), opts: { forWorker?: boolean } & RedisOptions = {}): Redis {
  const { forWorker, ...rest } = opts;
  return new Redis(url, {
    maxRetriesPerRequest: forWorker ? null : 1,
    enableOfflineQueue: forWorker ? true : false,
    retryStrategy: (times) => Math.min(200 * times, 2000),
    ...rest,
  });
}

/** Eviction policies under which Redis may silently drop queued jobs. */
const SAFE_POLICIES = new Set(['noeviction']);

/** Refuse to run on a Redis that can evict keys: BullMQ would lose jobs without a trace. */
export async function assertNoEviction(redis: Redis): Promise<void> {
  const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
  const policy = reply[1];
  if (policy !== undefined && !SAFE_POLICIES.has(policy)) {
    throw new Error(
      `Redis maxmemory-policy is "${policy}": it may evict queued jobs. ` +
        'Set "maxmemory-policy noeviction" (redis.conf or `redis-cli config set maxmemory-policy noeviction`) and start again.',
    );
  }
}

// ioredis's own words for a connection that is gone or not writable (commands refused
// while it reconnects), and the socket errors under them.
const REDIS_DOWN_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);
const REDIS_DOWN_MESSAGES = /Connection is closed|Stream isn't writeable|MaxRetriesPerRequestError|Reached the max retries per request/i;

/** True for errors meaning "Redis cannot be reached right now", as opposed to a failing command. */
export function isRedisUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; message?: unknown; name?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && REDIS_DOWN_CODES.has(e.code)) return true;
  if (typeof e.message === 'string' && REDIS_DOWN_MESSAGES.test(e.message)) return true;
  if (e.name === 'MaxRetriesPerRequestError') return true;
  if (Array.isArray(e.errors)) return e.errors.some(isRedisUnavailable);
  return false;
}
