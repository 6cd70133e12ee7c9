// The reconciler against real Redis and Postgres: runs that no job carries are found and
// enqueued again, exactly once each; runs of a dead worker are released; one leader.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queue } from 'bullmq';
import type pg from 'pg';
import { createPool, heartbeat } from '@curation/db';
import type { RunBatchJob } from '@curation/queue';
import { createTestDatabase, createTestRedis, type TestDatabase } from '../../../test/support/services.ts';
import { startWorker, type RunningWorker } from '../src/worker.ts';
import { addJob, createQueue, insertSweep, runStatuses, silentLogger, smallSpec, waitFor, waitSweep } from './helpers.ts';

describe('reconciler', () => {
  let tdb: TestDatabase;
  let db: pg.Pool;
  let redis: { url: string; prefix: string };
  let queue: Queue<RunBatchJob>;
  const workers: RunningWorker[] = [];

  const start = (over: Partial<Parameters<typeof startWorker>[0]> = {}) =>
    startWorker({
      databaseUrl: tdb.url, redisUrl: redis.url, prefix: redis.prefix, concurrency: 1, logger: silentLogger(),
      reconcileIntervalMs: 60_000, deadAfterMs: 2000, ...over,
    }).then((w) => { workers.push(w); return w; });

  beforeAll(async () => {
    tdb = await createTestDatabase();
    db = createPool(tdb.url);
    redis = await createTestRedis();
    queue = createQueue(redis.url, redis.prefix);
  });
  afterAll(async () => {
    for (const w of workers.reverse()) await w.close().catch(() => {});
    await queue?.obliterate({ force: true }).catch(() => {});
    await queue?.close();
    await db?.end();
    await tdb?.drop();
  });

  it('one worker leads; runs no job carries are enqueued again after a second look, once each', async () => {
    const a = await start();
    const b = await start();
    await a.reconciler!.tick();
    await b.reconciler!.tick();
    expect([a.reconciler!.isLeader, b.reconciler!.isLeader].filter(Boolean)).toHaveLength(1);
    const leader = a.reconciler!.isLeader ? a.reconciler! : b.reconciler!;

    // A running sweep whose jobs vanished (as after an older AOF or an "empty" in bull-board):
    // 12 queued runs, one job left for indexes 0..3 only.
    const { id, total } = await insertSweep(db, smallSpec({ name: 'lost', qs: [0.2, 0.4, 0.6], ds: [2, 3, 4, 5] }));
    await db.query(`UPDATE sweeps SET status = 'running', started_at = now() WHERE id = $1`, [id]);
    await queue.pause(); // nothing is taken until both passes have looked
    await addJob(queue, id, [0, 1, 2, 3]);
    const first = await leader.tick();
    expect(first).toMatchObject({ requeued: 0, suspects: total - 4 });
    expect(await queue.getJobCounts('wait', 'paused')).toMatchObject({ paused: 1 });
    const second = await leader.tick();
    expect(second).toMatchObject({ requeued: total - 4 });
    const jobs = await queue.getJobs(['wait', 'paused']);
    const carried = jobs.flatMap((j) => j.data.indexes).sort((x, y) => x - y);
    expect(carried).toEqual(Array.from({ length: total }, (_, i) => i)); // every index once
    // A third pass finds everything carried: nothing added twice.
    expect(await leader.tick()).toMatchObject({ requeued: 0, suspects: 0 });
    await queue.resume();
    await waitSweep(db, id, ['succeeded'], 30_000);
    const { rows } = await db.query<{ n: number; results: number; attempts: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT result_id)::int AS results, max(attempts)::int AS attempts FROM runs WHERE sweep_id = $1`, [id]);
    expect(rows[0]).toEqual({ n: total, results: total, attempts: 1 });
  });

  it('releases the runs of a dead worker and gives them a job, and finishes a sweep its last worker left', async () => {
    const leader = workers.find((w) => w.reconciler!.isLeader)!.reconciler!;
    const { id } = await insertSweep(db, smallSpec({ name: 'dead', qs: [0.3], ds: [2, 4] }));
    // A worker that claimed both runs and died: its heartbeat is a minute old, its job gone.
    await heartbeat(db, 'ghost');
    await db.query(`UPDATE workers SET heartbeat_at = now() - interval '1 minute' WHERE id = 'ghost'`);
    await db.query(`UPDATE runs SET status = 'running', attempts = 1, started_at = now(), worker = 'ghost' WHERE sweep_id = $1`, [id]);
    await db.query(`UPDATE sweeps SET status = 'running', started_at = now() WHERE id = $1`, [id]);
    await queue.pause();
    // Deaths are judged only once Postgres has answered this process for a whole
    // dead-after period: passes until then release nothing.
    await waitFor('a pass that releases the dead worker\'s runs', async () => {
      const p = await leader.tick();
      return p && p.released >= 2 ? p : undefined;
    }, 20_000, 100);
    expect(await runStatuses(db, id)).toEqual({ 0: 'queued', 1: 'queued' });
    await leader.tick();
    expect((await queue.getJobs(['paused'])).some((j) => j.data.sweepId === id)).toBe(true);
    await queue.resume();
    await waitSweep(db, id, ['succeeded'], 30_000);
    const { rows } = await db.query('SELECT attempts, worker FROM runs WHERE sweep_id = $1', [id]);
    expect(rows.every((r) => r.attempts === 2 && r.worker !== 'ghost')).toBe(true);

    // Every run done but the sweep left `running` (its worker died between the two statements).
    const idle = await insertSweep(db, smallSpec({ name: 'idle', qs: [0.3], ds: [2] }));
    await db.query(`UPDATE runs SET status = 'failed', error = 'x' WHERE sweep_id = $1`, [idle.id]);
    await db.query(`UPDATE sweeps SET status = 'running' WHERE id = $1`, [idle.id]);
    expect(await leader.tick()).toMatchObject({ finishedSweeps: 1 });
    await waitFor('idle sweep failed', async () => (await db.query('SELECT status FROM sweeps WHERE id = $1', [idle.id])).rows[0].status === 'failed');
  });

  it('a closed leader hands over at once; a stopped one once its lease expires', async () => {
    const i = workers.findIndex((w) => w.reconciler!.isLeader);
    const [old] = workers.splice(i, 1);
    await old.close();
    const other = workers[0].reconciler!;
    await other.tick();
    expect(other.isLeader).toBe(true);
    // A leader that stopped (SIGSTOP) keeps its lease until it expires, then loses it.
    await db.query(`UPDATE reconciler_lease SET holder = 'stopped', expires_at = now() + interval '1 minute'`);
    expect(await other.tick()).toBeUndefined();
    expect(other.isLeader).toBe(false);
    await db.query(`UPDATE reconciler_lease SET expires_at = now() - interval '1 second'`);
    expect(await other.tick()).toBeDefined();
    expect(other.isLeader).toBe(true);
  });
});
