// The private servers of test/support/own-servers.ts, exercised with real processes:
// restarts keep data, kills keep what was acknowledged, a stopped server refuses
// connections, nothing is left behind, and the shared services are never touched.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import pg from 'pg';
import { startOwnPostgres, startOwnRedis, type OwnPostgres, type OwnRedis } from './support/own-servers.ts';

const SHARED_REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const SHARED_POSTGRES_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

function redisClient(url: string): Redis {
  // No retries: a test must see a refused connection as an error, not a hang.
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  r.on('error', () => {});
  return r;
}

async function withRedis<T>(url: string, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = redisClient(url);
  await r.connect();
  try { return await fn(r); } finally { r.disconnect(); }
}

async function withPg<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  c.on('error', () => {});
  await c.connect();
  try { return await fn(c); } finally { await c.end().catch(() => {}); }
}

async function configGet(r: Redis, name: string): Promise<string> {
  return ((await r.config('GET', name)) as string[])[1];
}

/** The shared Redis's run_id, or undefined when no shared Redis answers. */
async function sharedRedisRunId(): Promise<string | undefined> {
  try {
    return await withRedis(SHARED_REDIS_URL, async (r) => /run_id:(\w+)/.exec(await r.info('server'))?.[1]);
  } catch {
    return undefined;
  }
}

async function sharedPostgresStart(): Promise<string | undefined> {
  try {
    return await withPg(SHARED_POSTGRES_URL, async (c) =>
      (await c.query('SELECT pg_postmaster_start_time()::text AS t')).rows[0].t as string);
  } catch {
    return undefined;
  }
}

function tcpRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.setTimeout(2000);
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('timeout', () => { s.destroy(); resolve(false); });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

describe('own Redis', () => {
  let redis: OwnRedis;
  let sharedRunId: string | undefined;
  beforeAll(async () => {
    sharedRunId = await sharedRedisRunId();
    redis = await startOwnRedis();
  });
  afterAll(async () => { await redis?.stop(); });

  it('runs on its own port with an append-only file, fsync always and noeviction', async () => {
    expect(redis.port).not.toBe(6379);
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    const cfg = await withRedis(redis.url, async (r) => ({
      appendonly: await configGet(r, 'appendonly'),
      appendfsync: await configGet(r, 'appendfsync'),
      policy: await configGet(r, 'maxmemory-policy'),
      save: await configGet(r, 'save'),
      dir: await configGet(r, 'dir'),
    }));
    expect(cfg).toEqual({ appendonly: 'yes', appendfsync: 'always', policy: 'noeviction', save: '', dir: redis.dir });
  });

  it('keeps its keys across restart(), on the same port', async () => {
    const before = await withRedis(redis.url, async (r) => {
      await r.set('restart:a', '1');
      await r.hset('restart:h', { x: '1', y: '2' });
      await r.rpush('restart:l', 'p', 'q');
      return /run_id:(\w+)/.exec(await r.info('server'))?.[1];
    });
    await redis.restart();
    await withRedis(redis.url, async (r) => {
      expect(/run_id:(\w+)/.exec(await r.info('server'))?.[1]).not.toBe(before); // really restarted
      expect(await r.get('restart:a')).toBe('1');
      expect(await r.hgetall('restart:h')).toEqual({ x: '1', y: '2' });
      expect(await r.lrange('restart:l', 0, -1)).toEqual(['p', 'q']);
    });
  });

  it('after kill() (SIGKILL) it refuses connections, and start() brings back every acknowledged write', async () => {
    await withRedis(redis.url, async (r) => {
      for (let i = 0; i < 50; i++) await r.incr('kill:counter');
      await r.set('kill:last', 'written just before the kill');
    });
    await redis.kill();
    expect(await tcpRefused(redis.port)).toBe(true);
    await expect(withRedis(redis.url, (r) => r.ping())).rejects.toThrow();
    await redis.start();
    await withRedis(redis.url, async (r) => {
      expect(await r.get('kill:counter')).toBe('50');
      expect(await r.get('kill:last')).toBe('written just before the kill');
      expect(await r.get('restart:a')).toBe('1');
    });
  });

  it('gives concurrent instances distinct ports and directories, and stop() removes everything', async () => {
    const [a, b] = await Promise.all([startOwnRedis({ appendonly: false, maxmemoryPolicy: 'allkeys-lru' }), startOwnRedis()]);
    try {
      expect(new Set([a.port, b.port, redis.port]).size).toBe(3);
      expect(new Set([a.dir, b.dir, redis.dir]).size).toBe(3);
      expect(await withRedis(a.url, async (r) => await configGet(r, 'maxmemory-policy'))).toBe('allkeys-lru');
      expect(await withRedis(a.url, async (r) => await configGet(r, 'appendonly'))).toBe('no');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    for (const s of [a, b]) {
      expect(existsSync(s.dir)).toBe(false);
      expect(await tcpRefused(s.port)).toBe(true);
    }
    await a.stop(); // idempotent
    await expect(a.start()).rejects.toThrow(/stopped for good/);
  });

  it('never touches the shared Redis', async (ctx) => {
    if (!sharedRunId) ctx.skip();
    expect(await sharedRedisRunId()).toBe(sharedRunId);
  });
});

describe('own Postgres', () => {
  let db: OwnPostgres;
  let sharedStart: string | undefined;
  beforeAll(async () => {
    sharedStart = await sharedPostgresStart();
    db = await startOwnPostgres();
  });
  afterAll(async () => { await db?.stop(); });

  it('runs on its own port as a cluster of its own', async () => {
    expect(db.port).not.toBe(5432);
    expect(db.url).toBe(`postgresql://postgres@127.0.0.1:${db.port}/postgres`);
    const dataDir = await withPg(db.url, async (c) => (await c.query("SELECT current_setting('data_directory') AS d")).rows[0].d);
    expect(dataDir).toBe(`${db.dir}/data`);
  });

  it('keeps tables and rows across restart()', async () => {
    const pidBefore = await withPg(db.url, async (c) => {
      await c.query('CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL)');
      await c.query("INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 100) g");
      return (await c.query('SELECT pg_postmaster_start_time()::text AS t')).rows[0].t;
    });
    await db.restart();
    await withPg(db.url, async (c) => {
      expect((await c.query('SELECT pg_postmaster_start_time()::text AS t')).rows[0].t).not.toBe(pidBefore);
      const { rows } = await c.query('SELECT count(*)::int AS n, max(label) AS m FROM items');
      expect(rows[0]).toEqual({ n: 100, m: 'item 99' });
    });
  });

  it('after kill() (immediate shutdown) connections are refused at once, and start() recovers every committed row', async () => {
    await withPg(db.url, async (c) => {
      await c.query("INSERT INTO items SELECT g, 'late ' || g FROM generate_series(101, 150) g");
      await c.query('BEGIN');
      await c.query("INSERT INTO items VALUES (999, 'never committed')");
      // killed with the transaction open
      await db.kill();
    });
    const t0 = Date.now();
    const err = await withPg(db.url, async () => 'connected').catch((e: NodeJS.ErrnoException) => e);
    expect((err as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(Date.now() - t0).toBeLessThan(1000);
    await db.start();
    await withPg(db.url, async (c) => {
      const { rows } = await c.query('SELECT count(*)::int AS n, bool_or(id = 999) AS uncommitted FROM items');
      expect(rows[0]).toEqual({ n: 150, uncommitted: false });
    });
  });

  it('stop() ends the server and removes its data directory', async () => {
    const other = await startOwnPostgres();
    expect(other.port).not.toBe(db.port);
    await other.stop();
    expect(existsSync(other.dir)).toBe(false);
    expect(await tcpRefused(other.port)).toBe(true);
    await expect(other.start()).rejects.toThrow(/stopped for good/);
  });

  it('never touches the shared Postgres', async (ctx) => {
    if (!sharedStart) ctx.skip();
    expect(await sharedPostgresStart()).toBe(sharedStart);
  });
});

describe('servers a test process leaves behind', () => {
  const support = fileURLToPath(new URL('./support/own-servers.ts', import.meta.url));

  // A child test process starts both servers and never stops them; it then dies.
  async function orphanAndDie(signal: NodeJS.Signals) {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `
      import { startOwnRedis, startOwnPostgres } from ${JSON.stringify(support)};
      const [r, p] = await Promise.all([startOwnRedis(), startOwnPostgres()]);
      console.log(JSON.stringify({ redis: [r.port, r.dir], pg: [p.port, p.dir] }));
      setInterval(() => {}, 1000);
    `], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, sig) => r(sig)));
    const info = await new Promise<{ redis: [number, string]; pg: [number, string] }>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(JSON.parse(out));
      });
      child.on('exit', (code) => reject(new Error(`child exited (${code}) before starting its servers:\n${stderr}`)));
    });
    expect(await tcpRefused(info.redis[0])).toBe(false);
    expect(await tcpRefused(info.pg[0])).toBe(false);
    child.kill(signal);
    const exitSignal = await exited;
    const leftovers = async () => [
      !(await tcpRefused(info.redis[0])) && 'redis port open',
      !(await tcpRefused(info.pg[0])) && 'postgres port open',
      existsSync(info.redis[1]) && 'redis dir exists',
      existsSync(info.pg[1]) && 'postgres dir exists',
    ].filter(Boolean);
    return { exitSignal, stderr, leftovers };
  }

  it('are cleaned up before the process ends on SIGTERM (how vitest ends its workers)', async () => {
    const { exitSignal, stderr, leftovers } = await orphanAndDie('SIGTERM');
    expect(exitSignal).toBe('SIGTERM'); // the default action still ends the process
    expect(stderr).toMatch(/received SIGTERM: killing redis-server on port \d+ left running/);
    expect(stderr).toMatch(/received SIGTERM: killing postgres on port \d+ left running/);
    expect(await leftovers()).toEqual([]); // at once: the handler did it, not the guardian
  });

  it('are cleaned up by the guardian when the process is SIGKILLed', async () => {
    const { exitSignal, leftovers } = await orphanAndDie('SIGKILL');
    expect(exitSignal).toBe('SIGKILL');
    const deadline = Date.now() + 10_000;
    let left = await leftovers();
    while (left.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      left = await leftovers();
    }
    expect(left).toEqual([]);
  });
});
