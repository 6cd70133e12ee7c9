// Fault: Postgres unreachable for a while during a sweep (two crash-like immediate
// stops, ~5 s and ~10 s). Workers retry with BullMQ's backoff and survive,
// /ready answers 503 naming postgres meanwhile and 200 again afterwards, and the sweep
// completes with every index stored exactly once. Uses a private Postgres instance on
// its own port (test/support/own-servers.ts); the shared Postgres is never touched.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { migrate, withDatabase } from '@curation/db';
import { startOwnPostgres, type OwnPostgres } from '../support/own-servers.ts';
import { createTestRedis } from '../support/services.ts';
import {
  c4Spec, call, linspace, makeTeam, ProcessGroup, recordFault, runCounts, sleep, spawnApi, spawnWorker,
  storageReport, submit, sweepRow, waitFinished, waitFor, type ApiProc, type Reply, type Target,
} from './support.ts';

const FAST_STALL = { WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000' };

describe('fault: Postgres unreachable during a sweep', () => {
  const group = new ProcessGroup();
  let server: OwnPostgres;
  let pool: pg.Pool;
  let target: Target;

  beforeAll(async () => {
    server = await startOwnPostgres();
    const url = withDatabase(server.url, 'curation_faults');
    await migrate(url); // creates the database
    const redis = await createTestRedis();
    target = { databaseUrl: url, redisUrl: redis.url, prefix: redis.prefix };
    pool = new pg.Pool({ connectionString: url, max: 3, connectionTimeoutMillis: 2000 });
    pool.on('error', () => {}); // idle clients lose their server during the outage
  });
  afterAll(async () => {
    await group.killAll();
    await pool?.end().catch(() => {});
    await server?.stop();
  });

  /** Takes Postgres down with `down`, polls /ready for `ms`, brings it back; returns what /ready said. */
  async function outage(api: ApiProc, down: () => Promise<void>, ms: number) {
    await down();
    const replies: Reply[] = [];
    const end = Date.now() + ms;
    while (Date.now() < end) {
      replies.push(await call(api.url, 'GET', '/ready', undefined, undefined, 5000));
      await sleep(250);
    }
    await server.start();
    const t = Date.now();
    const back = await waitFor('/ready 200 again', async () => {
      const r = await call(api.url, 'GET', '/ready', undefined, undefined, 5000);
      return r.status === 200 ? r : undefined;
    }, 20_000, 100);
    return { replies, back, recoveredMs: Date.now() - t };
  }

  it('down (immediate stop) ~5 s, later ~10 s: 503 meanwhile, workers retry and survive, nothing lost', async () => {
    const t0 = Date.now();
    const api = await spawnApi(group, target, { LOG_LEVEL: 'warn' });
    const { key } = await makeTeam(pool, `faults-pg-${target.prefix}`);
    const workers = await Promise.all([spawnWorker(group, target, FAST_STALL), spawnWorker(group, target, FAST_STALL)]);
    expect((await call(api.url, 'GET', '/ready')).status).toBe(200);
    // 80 configurations of ~0.2 s, a few per job: ~9 s of work for two workers.
    const spec = c4Spec({ name: 'fault-pg', qs: linspace(0.1, 0.9, 8), ds: linspace(2, 10, 10), n: 2001, iterations: 30_000, recordEvery: 5000 });
    const { id, total } = await submit(api.url, key, spec);
    expect(total).toBe(80);
    await waitFor('enqueued and runs in hand', async () => {
      const s = await sweepRow(pool, id);
      const c = await runCounts(pool, id);
      return s.enqueued === total && (c.succeeded ?? 0) >= 6 && (c.running ?? 0) >= 1;
    }, 60_000, 20);

    // 1. Crash-like: immediate stop (WAL replayed at start), down ~5 s.
    const before1 = await runCounts(pool, id);
    const first = await outage(api, () => server.kill(), 5000);
    // 2. Longer: down ~10 s (a failed job's 5 attempts with 1-2-4-8 s backoff would span 15 s).
    await waitFor('more progress between outages', async () => ((await runCounts(pool, id)).succeeded ?? 0) >= (before1.succeeded ?? 0) + 10, 60_000, 50);
    const before2 = await runCounts(pool, id);
    const second = await outage(api, () => server.kill(), 10_000);

    const status = await waitFinished(pool, id, 60_000).catch(() => 'unfinished');
    if (status === 'unfinished') {
      console.log('runs:', JSON.stringify(await runCounts(pool, id)));
      for (const w of workers) console.log(`--- ${w.name} (alive ${w.alive()}):\n${w.output().slice(-6000)}`);
    }
    const report = await storageReport(pool, id, total);
    // Jobs that met the outage: held and retried with backoff (or failed and retried by BullMQ).
    const retried = workers.map((w) => (w.output().match(/Postgres unreachable: holding the job|"msg":"job failed"/g) ?? []).length);
    const failedForGood = workers.map((w) => (w.output().match(/"final":true/g) ?? []).length);
    const during = [...first.replies, ...second.replies];
    recordFault('postgres-outage', {
      injected: 2, lost: report.lost.length, duplicated: report.duplicated.length, sweepStatus: status,
      byStatus: report.byStatus, maxAttempts: report.maxAttempts, before1, before2,
      readyDuringOutage: { polls: during.length, status503: during.filter((r) => r.status === 503).length, sample: during[0]?.body },
      recoveredMs: [first.recoveredMs, second.recoveredMs], jobsRetriedPerWorker: retried, jobsFailedForGood: failedForGood,
      workersAlive: workers.filter((w) => w.alive()).length, seconds: (Date.now() - t0) / 1000,
    });

    // /ready: 503 naming postgres (not redis) all through both outages, 200 after.
    expect(during.length).toBeGreaterThanOrEqual(20);
    for (const r of during) {
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ status: 'unavailable', redis: 'ok' });
      expect(r.body.postgres).not.toBe('ok');
    }
    expect(first.back.body).toEqual({ status: 'ready', postgres: 'ok', redis: 'ok' });
    expect(second.back.body).toEqual({ status: 'ready', postgres: 'ok', redis: 'ok' });
    // Workers retried (BullMQ attempts) instead of crashing; the same processes finished the sweep.
    expect(retried.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
    expect(failedForGood).toEqual([0, 0]);
    for (const w of workers) expect(w.alive(), `${w.name} crashed:\n${w.output().slice(-3000)}`).toBe(true);
    expect(api.proc.alive()).toBe(true);
    // Nothing lost, nothing stored twice.
    expect(status).toBe('succeeded');
    expect(report.byStatus).toEqual({ succeeded: total });
    expect(report.lost).toEqual([]);
    expect(report.duplicated).toEqual([]);
    expect(report.stray).toEqual([]);
    expect(report.badLinks).toEqual([]);
  }, 150_000);
});
