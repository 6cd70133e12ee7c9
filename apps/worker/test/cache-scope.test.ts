// RESULT_CACHE_SCOPE: with `team` (the default) a run reuses only results its own team's
// runs produced; with `global` it may reuse any, and then says so instead of showing
// the timing of whoever computed the result.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queue } from 'bullmq';
import type pg from 'pg';
import { createPool, createTeam, getRunDetail } from '@curation/db';
import type { RunBatchJob } from '@curation/queue';
import { createTestDatabase, createTestRedis, type TestDatabase } from '../../../test/support/services.ts';
import { startWorker, type RunningWorker } from '../src/worker.ts';
import { addJob, createQueue, insertSweep, silentLogger, smallSpec, waitSweep } from './helpers.ts';

describe('result cache scope', () => {
  let tdb: TestDatabase;
  let db: pg.Pool;
  const queues: Queue<RunBatchJob>[] = [];
  const workers: RunningWorker[] = [];

  async function workerWith(scope: 'team' | 'global' | undefined) {
    const redis = await createTestRedis();
    const queue = createQueue(redis.url, redis.prefix);
    queues.push(queue);
    workers.push(await startWorker({
      databaseUrl: tdb.url, redisUrl: redis.url, prefix: redis.prefix, concurrency: 1, logger: silentLogger(),
      reconcileIntervalMs: 0, ...(scope ? { cacheScope: scope } : {}),
    }));
    return queue;
  }

  /** Runs the four configurations of `smallSpec` for a team; its runs, with what the API shows of each. */
  async function sweepFor(queue: Queue<RunBatchJob>, teamId: string, name: string) {
    const { id } = await insertSweep(db, smallSpec({ name }));
    await db.query('UPDATE sweeps SET team_id = $2 WHERE id = $1', [id, teamId]);
    await addJob(queue, id, [0, 1, 2, 3]);
    await waitSweep(db, id, ['succeeded']);
    const { rows } = await db.query<{ id: string; reused: boolean; duration_ms: number | null; result_id: string }>(
      'SELECT id::text, reused, duration_ms, result_id::text FROM runs WHERE sweep_id = $1 ORDER BY index', [id]);
    const details = await Promise.all(rows.map((r) => getRunDetail(db, r.id, { teamId })));
    return rows.map((r, k) => ({ ...r, shown: { reused: details[k]!.reused, durationMs: details[k]!.durationMs } }));
  }

  beforeAll(async () => {
    tdb = await createTestDatabase();
    db = createPool(tdb.url);
  });
  afterAll(async () => {
    for (const w of workers) await w.close().catch(() => {});
    for (const q of queues) {
      await q.obliterate({ force: true }).catch(() => {});
      await q.close();
    }
    await db?.end();
    await tdb?.drop();
  });

  it('team (default): another team computes for itself and sees only its own timing; the same team reuses', async () => {
    const queue = await workerWith(undefined);
    const a = await createTeam(db, 'cache-a');
    const b = await createTeam(db, 'cache-b');
    const first = await sweepFor(queue, a.id, 'a-first');
    expect(first.every((r) => !r.reused && r.duration_ms! > 0 && r.shown.durationMs === r.duration_ms)).toBe(true);
    const results = async () => Number((await db.query('SELECT count(*) AS n FROM results')).rows[0].n);
    const stored = await results();

    // Team b: the same configurations are computed again (its own timing), stored once.
    const other = await sweepFor(queue, b.id, 'b-first');
    expect(other.map((r) => r.reused)).toEqual([false, false, false, false]);
    for (const [k, r] of other.entries()) {
      expect(r.duration_ms).toBeGreaterThan(0);
      expect(r.shown.durationMs).toBe(r.duration_ms);
      expect(r.shown.durationMs).not.toBe(first[k].duration_ms);
      expect(r.result_id).toBe(first[k].result_id); // one stored row per configuration
    }
    expect(await results()).toBe(stored);

    // Team a again: its own results are reused, and shown as reused, without a timing.
    const again = await sweepFor(queue, a.id, 'a-again');
    expect(again.map((r) => r.shown)).toEqual(Array(4).fill({ reused: true, durationMs: null }));
    expect(again.every((r) => r.duration_ms === null)).toBe(true);
  });

  it('global: another team reuses the stored results, shown as reused, never with the first team\'s timing', async () => {
    const queue = await workerWith('global');
    const c = await createTeam(db, 'cache-c');
    const runs = await sweepFor(queue, c.id, 'c-global');
    expect(runs.map((r) => r.shown)).toEqual(Array(4).fill({ reused: true, durationMs: null }));
    const { rows } = await db.query('SELECT duration_ms FROM results WHERE id = ANY($1::bigint[])', [runs.map((r) => r.result_id)]);
    expect(rows.every((r) => r.duration_ms > 0)).toBe(true); // the results had a timing: it is not shown
  });
});
