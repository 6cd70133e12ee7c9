// The API's Redis client fails commands at once while it is not connected (no offline
// queue, so requests never hang on a dead Redis). Right after start-up it is briefly
// "connecting"; this waits out that window, or the first error, within a deadline.
import type { Redis } from 'ioredis';

export function redisReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      redis.off('error', onError);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => done();
    const onError = (err: Error) => done(err);
    const timer = setTimeout(() => done(new Error(`Redis not connected within ${timeoutMs} ms (${redis.status})`)), timeoutMs);
    redis.once('ready', onReady);
    redis.once('error', onError);
  });
}
