// Fault: the API process SIGKILLed (twice) while a 100,000-configuration submission is
// being enqueued in the background. A new API process resumes the enqueue at start-up:
// the sweep ends fully enqueued, exactly once (100,000 run rows, every index in exactly
// one BullMQ job). No workers run, so every job is still in the queue to be read.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createRedis, RUNS_QUEUE, type RunBatchJob } from '@curation/queue';
import { createTestDatabase, createTestRedis, type TestDatabase } from '../support/services.ts';
import { call, linspace, makeTeam, ProcessGroup, recordFault, spawnApi, submit, sweepRow, waitFor, type ApiProc, type Target } from './support.ts';

const TOTAL = 100_000;
const KILLS = 2;

describe('fault: API killed while a 100,000-configuration sweep is enqueued', () => {
  const group = new ProcessGroup();
  let db: TestDatabase;
  let pool: pg.Pool;
  let target: Target;
  let conn: Redis;
  let queue: Queue;

  beforeAll(async () => {
    db = await createTestDatabase();
    const redis = await createTestRedis();
    target = { databaseUrl: db.url, redisUrl: redis.url, prefix: redis.prefix };
    pool = new pg.Pool({ connectionString: db.url, max: 3 });
    conn = createRedis(redis.url);
    conn.on('error', () => {});
    queue = new Queue(RUNS_QUEUE, { connection: conn, prefix: target.prefix });
  });
  afterAll(async () => {
    await group.killAll();
    await queue?.obliterate({ force: true }).catch(() => {});
    await queue?.close().catch(() => {});
    conn?.disconnect();
    await pool?.end();
    await db?.drop();
  });

  it('SIGKILL mid-enqueue, twice: the next instance resumes, every index enqueued exactly once', async () => {
    const t0 = Date.now();
    const { key } = await makeTeam(pool, `faults-enqueue-${target.prefix}`);
    // 1,000 x 100 tiny configurations (21 atoms, 5 generations).
    const spec = {
      name: 'fault-enqueue-100k',
      base: {
        support: { kind: 'grid', min: -5, max: 5, n: 21 },
        rewards: [{ kind: 'quadratic', center: -1 }, { kind: 'quadratic', center: 1 }],
        iterations: 5,
      },
      axes: [{ param: 'q', values: linspace(0.001, 0.999, 1000) }, { param: 'D', values: linspace(0.5, 5, 100) }],
      derive: { 'rewards.0.center': '[-D/2]', 'rewards.1.center': '[D/2]' },
    };
    let api: ApiProc = await spawnApi(group, target, { LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '0' });
    const { id, total } = await submit(api.url, key, spec);
    expect(total).toBe(TOTAL);

    const kills: { enqueuedAtKill: number; runRowsAtKill: number; jobsAtKill: number }[] = [];
    for (let k = 0; k < KILLS; k++) {
      // Kill once this instance has made progress of its own, but before the end.
      const from = (await sweepRow(pool, id)).enqueued;
      const at = await waitFor('enqueue in progress', async () => {
        const s = await sweepRow(pool, id);
        if (s.enqueued >= total) throw new Error(`enqueue finished before kill ${k + 1} could happen (from ${from})`);
        return s.enqueued > from ? s.enqueued : undefined;
      }, 60_000, 5);
      const exit = await api.proc.kill('SIGKILL');
      expect(exit.signal).toBe('SIGKILL');
      const rows = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM runs WHERE sweep_id = $1', [id]);
      kills.push({ enqueuedAtKill: Math.max(at, (await sweepRow(pool, id)).enqueued), runRowsAtKill: rows.rows[0].n, jobsAtKill: await queue.count() });
      api = await spawnApi(group, target, { LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '0' });
    }

    // The last instance finishes the enqueue on its own (resumed at start-up).
    await waitFor('fully enqueued', async () => (await sweepRow(pool, id)).enqueued === total, 120_000, 100);
    const view = await call(api.url, 'GET', `/v1/sweeps/${id}`, key);
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ id, enqueued: total, status: 'queued' });
    expect(view.body.counts).toMatchObject({ queued: total, running: 0, succeeded: 0, failed: 0, cancelled: 0 });

    // Run rows: exactly one per index.
    const { rows: [r] } = await pool.query<{ n: number; d: number; lo: number; hi: number; queued: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT index)::int AS d, min(index) AS lo, max(index) AS hi,
              count(*) FILTER (WHERE status = 'queued')::int AS queued
         FROM runs WHERE sweep_id = $1`, [id]);
    // Jobs: every index in exactly one waiting job.
    const jobs = await queue.getJobs(['wait', 'prioritized', 'delayed', 'paused', 'active', 'completed', 'failed'], 0, -1);
    const seen = new Uint8Array(total);
    let outside = 0;
    for (const j of jobs) {
      const data = j.data as RunBatchJob;
      expect(data.sweepId).toBe(id);
      for (const i of data.indexes) {
        if (Number.isInteger(i) && i >= 0 && i < total) seen[i]++;
        else outside++;
      }
    }
    let lost = 0;
    let duplicated = 0;
    for (let i = 0; i < total; i++) {
      if (seen[i] === 0) lost++;
      if (seen[i] > 1) duplicated++;
    }
    lost = Math.max(lost, total - r.d);
    duplicated = Math.max(duplicated, r.n - r.d);
    const counts = await queue.getJobCounts('wait', 'prioritized', 'delayed', 'paused', 'active', 'completed', 'failed');
    recordFault('api-restart-enqueue', {
      injected: kills.length, lost, duplicated, kills, runRows: r.n, distinctIndexes: r.d, jobs: jobs.length,
      jobCounts: counts, indexesOutsideSweep: outside, seconds: (Date.now() - t0) / 1000,
    });

    expect(kills).toHaveLength(KILLS);
    for (const k of kills) expect(k.enqueuedAtKill).toBeLessThan(total);
    expect(r).toEqual({ n: total, d: total, lo: 0, hi: total - 1, queued: total });
    expect(outside).toBe(0);
    expect(lost).toBe(0);
    expect(duplicated).toBe(0);
    expect(counts.wait + counts.prioritized).toBe(jobs.length);
    expect(jobs.length).toBe(total / 100); // tiny configurations: 100 indexes a job
  }, 200_000);
});
