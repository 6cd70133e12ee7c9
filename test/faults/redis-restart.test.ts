// Fault: Redis restarted during a sweep (append-only file, appendfsync always). The
// sweep completes; nothing queued is lost. Uses a private Redis instance on its own
// port (test/support/own-servers.ts); the shared Redis is never touched.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createRedis, RUNS_QUEUE } from '@curation/queue';
import { startOwnRedis, type OwnRedis } from '../support/own-servers.ts';
import { createTestDatabase, uniqueName, type TestDatabase } from '../support/services.ts';
import {
  c4Spec, linspace, makeTeam, ProcessGroup, recordFault, runCounts, sleep, spawnApi, spawnWorker, storageReport,
  submit, sweepRow, waitFinished, waitFor, type Target,
} from './support.ts';

const FAST_STALL = { WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000' };

describe('fault: Redis restarted during a sweep', () => {
  const group = new ProcessGroup();
  let redis: OwnRedis;
  let db: TestDatabase;
  let pool: pg.Pool;
  let target: Target;
  let conn: Redis;
  let queue: Queue;

  beforeAll(async () => {
    redis = await startOwnRedis({ appendonly: true });
    db = await createTestDatabase();
    target = { databaseUrl: db.url, redisUrl: redis.url, prefix: uniqueName('q') };
    pool = new pg.Pool({ connectionString: db.url, max: 3 });
    conn = createRedis(redis.url);
    conn.on('error', () => {}); // reconnects by itself after each restart
    queue = new Queue(RUNS_QUEUE, { connection: conn, prefix: target.prefix });
    queue.on('error', () => {});
  });
  afterAll(async () => {
    await group.killAll();
    await queue?.close().catch(() => {});
    conn?.disconnect();
    await redis?.stop();
    await pool?.end();
    await db?.drop();
  });

  /** Job counts, retried while the connection comes back after a restart. */
  const counts = () => waitFor('queue counts', async () => {
    try {
      return await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'paused', 'completed', 'failed');
    } catch {
      return undefined;
    }
  }, 20_000, 100);

  it('restarted while jobs are queued, then killed and started while they run: every index succeeded exactly once', async () => {
    const t0 = Date.now();
    const api = await spawnApi(group, target, { LOG_LEVEL: 'warn' });
    const { key } = await makeTeam(pool, `faults-redis-${target.prefix}`);
    // 48 configurations of ~0.5 s, one job each.
    const spec = c4Spec({ name: 'fault-redis', qs: linspace(0.1, 0.9, 6), ds: linspace(2, 10, 8), n: 2001, iterations: 100_000, recordEvery: 5000 });
    const { id, total } = await submit(api.url, key, spec);
    expect(total).toBe(48);
    await waitFor('fully enqueued', async () => (await sweepRow(pool, id)).enqueued === total, 30_000, 50);

    // 1. Restart (graceful: the AOF is flushed) with every job still waiting: no worker yet.
    const before = await counts();
    const jobs = before.wait + before.prioritized;
    expect(jobs).toBe(total); // one job per configuration
    await redis.restart();
    const afterFirst = await counts();
    expect(afterFirst.wait + afterFirst.prioritized).toBe(jobs);
    const waitingIds = async () => (await queue.getJobs(['wait', 'prioritized'], 0, -1)).map((j) => j.id).sort();
    expect(new Set(await waitingIds()).size).toBe(jobs);

    // 2. Workers take the jobs; while runs are in hand, Redis dies (SIGKILL: no shutdown,
    //    only what appendfsync=always already wrote survives) and comes back 1.5 s later.
    await Promise.all([spawnWorker(group, target, FAST_STALL), spawnWorker(group, target, FAST_STALL)]);
    await waitFor('runs in hand mid-sweep', async () => {
      const c = await runCounts(pool, id);
      return (c.succeeded ?? 0) >= 8 && (c.running ?? 0) >= 1 ? c : undefined;
    }, 60_000, 20);
    const midSweep = await runCounts(pool, id);
    await redis.kill();
    await sleep(1500);
    await redis.start();
    const injected = 2;

    const status = await waitFinished(pool, id, 120_000);
    const report = await storageReport(pool, id, total);
    const finalCounts = await counts();
    const crashed = group.living('worker').length;
    recordFault('redis-restart', {
      injected, lost: report.lost.length, duplicated: report.duplicated.length, sweepStatus: status,
      byStatus: report.byStatus, maxAttempts: report.maxAttempts, jobsBeforeRestart: jobs, midSweep, finalCounts,
      workersAlive: crashed, seconds: (Date.now() - t0) / 1000,
    });

    expect(status).toBe('succeeded');
    expect(report.byStatus).toEqual({ succeeded: total });
    expect(report.lost).toEqual([]);
    expect(report.duplicated).toEqual([]);
    expect(report.stray).toEqual([]);
    expect(report.badLinks).toEqual([]);
    // Nothing left behind in the queue, nothing failed for good.
    expect(finalCounts.wait + finalCounts.active + finalCounts.delayed + finalCounts.prioritized).toBe(0);
    expect(finalCounts.failed).toBe(0);
    // The workers rode out both restarts.
    expect(group.living('worker').length).toBe(2);
    expect(group.living('api').length).toBe(1);
  }, 150_000);
});
