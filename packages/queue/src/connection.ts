// Redis connections for BullMQ. One default for every process so API, workers, tests
// and the demo agree; the prefix keeps deployments (and test runs) apart on one Redis.
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
