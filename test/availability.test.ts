// "Unreachable" versus "failed": the worker holds a job through a Postgres outage, the
// API answers 503 instead of 500 and the CLI exits 5, all on these two predicates. Real
// errors from real clients, not hand-made objects.
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { Redis } from 'ioredis';
import { isDatabaseUnavailable } from '@curation/db';
import { isRedisUnavailable } from '@curation/queue';
import { createTestDatabase, getServices } from './support/services.ts';

const failure = async (p: Promise<unknown>): Promise<unknown> => p.then(() => { throw new Error('expected a failure'); }, (err: unknown) => err);

describe('unavailable or failed', () => {
  it('Postgres: a refused connection is unavailable; a failing statement and a missing table are not', async () => {
    const refused = new pg.Client({ connectionString: 'postgresql://postgres@127.0.0.1:1/postgres', connectionTimeoutMillis: 2000 });
    expect(isDatabaseUnavailable(await failure(refused.connect()))).toBe(true);
    const db = await createTestDatabase();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      expect(isDatabaseUnavailable(await failure(client.query('SELEC 1')))).toBe(false);
      expect(isDatabaseUnavailable(await failure(client.query('SELECT * FROM no_such_table')))).toBe(false);
      expect(isDatabaseUnavailable(await failure(client.query('SELECT 1/0')))).toBe(false);
    } finally {
      await client.end();
      await db.drop();
    }
    expect(isDatabaseUnavailable(undefined)).toBe(false);
  });

  it('Redis: a closed or refused connection is unavailable; a failing command is not', async () => {
    const refused = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    refused.on('error', () => {}); // the rejected connect() below is what we look at
    expect(isRedisUnavailable(await failure(refused.connect()))).toBe(true);
    refused.disconnect();
    const redis = new Redis((await getServices()).redisUrl, { maxRetriesPerRequest: 0 });
    try {
      expect(isRedisUnavailable(await failure(redis.call('NO-SUCH-COMMAND')))).toBe(false);
      redis.disconnect();
      expect(isRedisUnavailable(await failure(redis.get('x')))).toBe(true);
    } finally {
      redis.disconnect();
    }
  });
});
