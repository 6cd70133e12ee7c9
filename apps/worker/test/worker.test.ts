import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queue } from 'bullmq';
import type pg from 'pg';
import { CORE_VERSION } from '@curation/core';
import { createPool } from '@curation/db';
import { createRedis, type RunBatchJob } from '@curation/queue';
import { createTestDatabase, createTestRedis, type TestDatabase } from '../../../test/support/services.ts';
import { cancelChannel } from '@curation/queue';
import { startWorker, type RunningWorker } from '../src/worker.ts';
import { addJob, createQueue, insertSweep, runStatuses, silentLogger, smallSpec, sweepRow, waitFor, waitSweep } from './helpers.ts';

/** One configuration that runs for minutes unless stopped. */
function longSpec(name = 'long') {
  return {
    name,
    base: {
      support: { kind: 'grid', min: -12, max: 12, n: 2001 },
      rewards: [{ kind: 'quadratic', center: -2 }, { kind: 'quadratic', center: 2 }],
      q: 0.4,
      realFraction: 0.05, // no atom dies, so no generation gets cheaper
      iterations: 50_000_000,
      recordEvery: 1_000_000,
    },
  };
}

/** The revision every worker of this file is given, so a result can be traced to it. */
const REVISION = 'worker-test-revision';

/**
 * CPU time of this process (every thread) since `from`, in ms. The test's own thread
 * mostly waits on I/O, so a quarter second of it means a compute thread is simulating.
 */
const cpuMsSince = (from: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
};

describe('worker', () => {
  let tdb: TestDatabase;
  let db: pg.Pool;
  let redis: { url: string; prefix: string };
  let queue: Queue<RunBatchJob>;
  let worker: RunningWorker;
  const extra: { close(): Promise<unknown> }[] = [];

  async function newWorker(over: Partial<Parameters<typeof startWorker>[0]> = {}) {
    const w = await startWorker({
      databaseUrl: tdb.url, redisUrl: redis.url, prefix: redis.prefix, concurrency: 2, cancelPollMs: 300,
      // These tests share one database across several queue prefixes: a reconciler would
      // see another prefix's runs as carried by no job (reconciler.test.ts tests it alone).
      reconcileIntervalMs: 0,
      gitRevision: REVISION,
      logger: silentLogger(), ...over,
    });
    extra.push(w);
    return w;
  }

  beforeAll(async () => {
    tdb = await createTestDatabase();
    db = createPool(tdb.url);
    redis = await createTestRedis();
    queue = createQueue(redis.url, redis.prefix);
    // No Postgres poll for cancels here, so the pub/sub test cannot pass through it.
    worker = await newWorker({ cancelPollMs: 600_000 });
  });

  afterAll(async () => {
    for (const w of extra.reverse()) await w.close().catch(() => {});
    await queue?.obliterate({ force: true }).catch(() => {});
    await queue?.close();
    await db?.end();
    await tdb?.drop();
  });

  const count = async (sql: string, params: unknown[] = []) => Number((await db.query(sql, params)).rows[0].n);

  it('stores each index once, however often it is delivered', async () => {
    const { id } = await insertSweep(db, smallSpec({ name: 'idem' }));
    const a = await addJob(queue, id, [0, 1, 2, 3], 0);
    // A duplicate delivery under another id, processed at the same time on the other thread.
    const b = await addJob(queue, id, [0, 1, 2, 3], 1);
    const done = await waitSweep(db, id, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    expect(done.started_at).toBeInstanceOf(Date);
    expect(done.finished_at).toBeInstanceOf(Date);
    await waitFor('both jobs completed', async () =>
      (await a.getState()) === 'completed' && (await b.getState()) === 'completed');

    const { rows } = await db.query('SELECT index, status, attempts, result_id, config_hash FROM runs WHERE sweep_id = $1 ORDER BY index', [id]);
    expect(rows).toHaveLength(4);
    expect(rows.every((r) => r.status === 'succeeded' && r.attempts >= 1 && r.result_id && /^[0-9a-f]{64}$/.test(r.config_hash))).toBe(true);
    expect(await count('SELECT count(*) AS n FROM results')).toBe(4);

    // A late duplicate finds nothing to claim.
    const c = await addJob(queue, id, [0, 1, 2, 3], 2);
    await waitFor('late duplicate completed', async () => (await c.getState()) === 'completed');
    const after = await db.query('SELECT attempts, result_id FROM runs WHERE sweep_id = $1 ORDER BY index', [id]);
    expect(after.rows).toEqual(rows.map((r) => ({ attempts: r.attempts, result_id: r.result_id })));

    // A worker that died after storing the result but before finishing the run: the
    // run is still `running` and its job is redelivered.
    await db.query(`UPDATE runs SET status = 'running', finished_at = NULL WHERE sweep_id = $1 AND index = 0`, [id]);
    await db.query(`UPDATE sweeps SET status = 'running', finished_at = NULL WHERE id = $1`, [id]);
    await addJob(queue, id, [0], 3);
    await waitSweep(db, id, ['succeeded']);
    const again = await db.query('SELECT status, attempts, result_id FROM runs WHERE sweep_id = $1 AND index = 0', [id]);
    expect(again.rows[0]).toMatchObject({ status: 'succeeded', attempts: rows[0].attempts + 1, result_id: rows[0].result_id });
    expect(await count('SELECT count(*) AS n FROM runs WHERE sweep_id = $1', [id])).toBe(4);
    expect(await count('SELECT count(*) AS n FROM results')).toBe(4);

    const r = (await db.query('SELECT * FROM results WHERE id = $1', [rows[0].result_id])).rows[0];
    expect(r.core_version).toBe(CORE_VERSION);
    expect(r.git_revision).toBe(REVISION);
    expect(r.trajectory.length).toBeGreaterThan(24);
    expect(r.final_entropy).toBeCloseTo(r.summary.final.entropy, 12);
    expect(r.basin_share0).toBe(r.summary.basinShare[0]);
    expect(r.in_interval).toBe(r.summary.audit.inInterval);
    expect(r.config).toMatchObject({ weights: expect.any(Array), K: 'inf', iterations: 40 });
  });

  it('with WORKER_DB_CLIENT=prisma, stores each index once, as the pg client does', async () => {
    const r = await createTestRedis();
    const q = createQueue(r.url, r.prefix);
    extra.push(q);
    await newWorker({ prefix: r.prefix, dbClient: 'prisma' });
    const { id } = await insertSweep(db, smallSpec({ name: 'prisma-client', iterations: 41 }));
    await addJob(q, id, [0, 1, 2, 3], 0);
    await addJob(q, id, [0, 1, 2, 3], 1); // a duplicate delivery at the same time
    expect((await waitSweep(db, id, ['succeeded', 'failed'])).status).toBe('succeeded');
    const { rows } = await db.query(
      `SELECT r.index, r.status, r.attempts, r.reused, r.duration_ms, res.trajectory, res.summary
         FROM runs r JOIN results res ON res.id = r.result_id WHERE r.sweep_id = $1 ORDER BY r.index`, [id]);
    expect(rows.map((x) => [x.index, x.status, x.reused])).toEqual([0, 1, 2, 3].map((i) => [i, 'succeeded', false]));
    expect(rows.every((x) => x.attempts >= 1 && x.duration_ms > 0 && x.trajectory.length > 24 && typeof x.summary.converged === 'boolean')).toBe(true);
  });

  it('computes nothing for a cancelled sweep: its queued and orphaned running runs are cancelled', async () => {
    const { id } = await insertSweep(db, smallSpec({ name: 'cancelled-before-claim' }));
    // Index 1 was left running by a worker that died; then the sweep was cancelled.
    await db.query(`UPDATE runs SET status = 'running', attempts = 1 WHERE sweep_id = $1 AND index = 1`, [id]);
    await db.query(`UPDATE sweeps SET status = 'cancelled' WHERE id = $1`, [id]);
    const job = await addJob(queue, id, [0, 1, 2], 10);
    await waitFor('job completed', async () => (await job.getState()) === 'completed');
    expect(await runStatuses(db, id)).toEqual({ 0: 'cancelled', 1: 'cancelled', 2: 'cancelled', 3: 'queued' });
    expect(await count('SELECT count(*) AS n FROM runs WHERE sweep_id = $1 AND (result_id IS NOT NULL OR attempts > 1)', [id])).toBe(0);
    expect((await sweepRow(db, id)).started_at).toBeNull();
  });

  it('computes identical configurations once, across sweeps and spellings', async () => {
    const first = await insertSweep(db, smallSpec({ name: 'dedup-a', qs: [0.2, 0.8], ds: [3, 5] }));
    // The same four configurations: axes in the other order, defaults written out, keys shuffled.
    const spec = smallSpec({ name: 'dedup-b' });
    const second = await insertSweep(db, {
      ...spec,
      base: { recordEvery: 5, eps: 0.5, beta: 1, realFraction: 0, iterations: 40, K: 'inf', rewards: spec.base.rewards, support: spec.base.support },
      axes: [{ param: 'D', values: [3, 5] }, { param: 'q', values: [0.2, 0.8] }],
    });
    const before = await count('SELECT count(*) AS n FROM results');
    await addJob(queue, first.id, [0, 1, 2, 3]);
    await waitSweep(db, first.id, ['succeeded']);
    await addJob(queue, second.id, [0, 1], 0);
    await addJob(queue, second.id, [2, 3], 0);
    await waitSweep(db, second.id, ['succeeded']);
    expect(await count('SELECT count(*) AS n FROM results')).toBe(before + 4);
    const { rows } = await db.query(
      `SELECT a.index AS a, b.index AS b, a.result_id = b.result_id AS same
         FROM runs a JOIN runs b ON a.params = b.params
        WHERE a.sweep_id = $1 AND b.sweep_id = $2`,
      [first.id, second.id],
    );
    expect(rows).toHaveLength(4);
    expect(rows.every((r) => r.same)).toBe(true);
  });

  it('fails only the run whose configuration the core refuses', async () => {
    const spec = smallSpec({ name: 'bad-beta' });
    const { id } = await insertSweep(db, { ...spec, axes: [{ param: 'beta', values: [1, -1, 2] }], derive: undefined });
    await addJob(queue, id, [0, 1, 2]);
    const done = await waitSweep(db, id, ['succeeded', 'failed']);
    expect(done.status).toBe('failed');
    const { rows } = await db.query('SELECT index, status, error, result_id FROM runs WHERE sweep_id = $1 ORDER BY index', [id]);
    expect(rows.map((r) => r.status)).toEqual(['succeeded', 'failed', 'succeeded']);
    expect(rows[1].error).toMatch(/beta/);
    expect(rows[1].error).not.toMatch(/\n/);
    expect(rows[1].result_id).toBeNull();
  });

  it('stops a long simulation on a cancel message', async () => {
    const { id } = await insertSweep(db, longSpec('cancel-pubsub'));
    await addJob(queue, id, [0]);
    await waitFor('run running', async () => (await runStatuses(db, id))[0] === 'running');
    const cpu0 = process.cpuUsage();
    await waitFor('the simulation computing', () => cpuMsSince(cpu0) >= 250, 30_000, 20);
    // What the API does on cancel. This worker never polls Postgres for cancels, so
    // only the message can stop the run before the wait gives up.
    await db.query(`UPDATE sweeps SET status = 'cancelled', finished_at = now() WHERE id = $1`, [id]);
    const pub = createRedis(redis.url, { forWorker: true });
    await pub.publish(cancelChannel(redis.prefix), id);
    pub.disconnect();
    await waitFor('run cancelled', async () => (await runStatuses(db, id))[0] === 'cancelled', 10_000, 20);
    expect((await sweepRow(db, id)).status).toBe('cancelled');
  });

  it('stops a long simulation when the cancel is only in Postgres (missed message)', async () => {
    const r = await createTestRedis();
    const q = createQueue(r.url, r.prefix);
    extra.push(q);
    await newWorker({ prefix: r.prefix, concurrency: 1, cancelPollMs: 300 });
    const { id } = await insertSweep(db, longSpec('cancel-poll'));
    await addJob(q, id, [0]);
    await waitFor('run running', async () => (await runStatuses(db, id))[0] === 'running');
    await db.query(`UPDATE sweeps SET status = 'cancelled', finished_at = now() WHERE id = $1`, [id]);
    await waitFor('run cancelled', async () => (await runStatuses(db, id))[0] === 'cancelled', 10_000);
  });

  it('fails a run that exceeds the time limit, and the sweep goes on', async () => {
    const r = await createTestRedis();
    const q = createQueue(r.url, r.prefix);
    extra.push(q);
    await newWorker({ prefix: r.prefix, concurrency: 1, runTimeoutSeconds: 0.5 });
    const { id } = await insertSweep(db, longSpec('timeout'));
    await addJob(q, id, [0]);
    await waitSweep(db, id, ['failed'], 15_000);
    const { rows } = await db.query('SELECT status, error FROM runs WHERE sweep_id = $1', [id]);
    expect(rows[0].status).toBe('failed');
    expect(rows[0].error).toMatch(/time limit of 0.5 s/);
  });

  it('marks the runs of a job that used up its attempts failed, with the reason', async () => {
    const r = await createTestRedis();
    const q = createQueue(r.url, r.prefix);
    extra.push(q);
    await newWorker({ prefix: r.prefix, concurrency: 1 });
    const { id } = await insertSweep(db, smallSpec({ name: 'exhausted', qs: [0.45], ds: [7] }));
    // An infrastructure fault the worker cannot fix by itself.
    await db.query('ALTER TABLE results RENAME TO results_away');
    try {
      const job = await q.add('runs', { sweepId: id, indexes: [0] }, { jobId: `${id}:x:0`, attempts: 2, backoff: { type: 'fixed', delay: 100 } });
      await waitFor('job failed', async () => (await job.getState()) === 'failed', 15_000);
      const row = await waitFor('run failed', async () => {
        const { rows } = await db.query('SELECT status, error FROM runs WHERE sweep_id = $1', [id]);
        return rows[0].status === 'failed' ? rows[0] : undefined;
      });
      expect(row.error).toMatch(/after 2 attempt\(s\).*results/);
      // The sweep is finished by the statement after the one that failed its runs.
      expect((await waitSweep(db, id, ['succeeded', 'failed', 'cancelled'])).status).toBe('failed');
    } finally {
      await db.query('ALTER TABLE results_away RENAME TO results');
    }
  });

  it('on close, hands runs still computing after the grace period back to the queue', async () => {
    const r = await createTestRedis();
    const q = createQueue(r.url, r.prefix);
    extra.push(q);
    const w = await newWorker({ prefix: r.prefix, concurrency: 1, shutdownGraceSeconds: 0.3 });
    const { id } = await insertSweep(db, longSpec('handback'));
    const job = await addJob(q, id, [0]);
    await waitFor('run running', async () => (await runStatuses(db, id))[0] === 'running');
    // The run would take minutes: close() returns (within the test's time limit) only
    // because it hands the run back after the grace period.
    await w.close();
    expect((await runStatuses(db, id))[0]).toBe('queued');
    const back = await q.getJob(job.id!);
    expect(await back!.getState()).toBe('waiting');
    expect(back!.attemptsMade).toBe(0);

    // The next worker takes it up again.
    await newWorker({ prefix: r.prefix, concurrency: 1 });
    await waitFor('run running again', async () => (await runStatuses(db, id))[0] === 'running');
    const { rows } = await db.query('SELECT attempts FROM runs WHERE sweep_id = $1', [id]);
    expect(rows[0].attempts).toBe(2);
    await db.query(`UPDATE sweeps SET status = 'cancelled' WHERE id = $1`, [id]);
    await waitFor('run cancelled', async () => (await runStatuses(db, id))[0] === 'cancelled', 10_000);
    expect(worker).toBeDefined();
  });
});
