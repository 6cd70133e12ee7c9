// Fault: the jobs of a running sweep vanish from Redis while Postgres still says its runs
// are queued. (a) Redis with the documented persistence (append-only file, appendfsync
// everysec) loses its last second of writes in a crash: a private redis-server is killed
// with SIGKILL and its append-only directory replaced by a copy taken before the sweep
// was submitted. (b) An operator empties the queue through bull-board's API. Either way
// the workers' reconciler must notice the runs that no job carries and enqueue them
// again: the sweep runs again within 30 s and ends with every run stored exactly once.
//
// "Running again" is measured from the fault to the first claim of a run that was queued
// and not named by a job some worker already had in hand (those go on regardless).
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createKey } from '@curation/db';
import { createRedis, RUNS_QUEUE, type RunBatchJob } from '@curation/queue';
import { startOwnRedis, type OwnRedis } from '../support/own-servers.ts';
import { createTestDatabase, createTestRedis, uniqueName, type TestDatabase } from '../support/services.ts';
import {
  c4Spec, linspace, makeTeam, ProcessGroup, recordFault, runCounts, sleep, spawnApi, spawnWorker, storageReport,
  submit, waitFinished, waitFor, type Target,
} from './support.ts';

const RECOVERY_TARGET_MS = 30_000;
// 160 configurations of ~40 ms estimated (2001 atoms, 6,000 generations): the sweep outlasts
// the fault, and the jobs workers hold when it strikes do not keep them busy for long.
const spec = (name: string) => c4Spec({ name, qs: linspace(0.1, 0.9, 8), ds: linspace(2, 10, 20), n: 2001, iterations: 6000, recordEvery: 2000 });

interface Setup { group: ProcessGroup; db: TestDatabase; pool: pg.Pool; target: Target; conn: Redis; queue: Queue<RunBatchJob> }
const setups: Setup[] = [];

async function setUp(redisUrl: string, prefix: string): Promise<Setup> {
  const db = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: db.url, max: 3 });
  const conn = createRedis(redisUrl);
  conn.on('error', () => {});
  const queue = new Queue<RunBatchJob>(RUNS_QUEUE, { connection: conn, prefix });
  queue.on('error', () => {});
  const s = { group: new ProcessGroup(), db, pool, target: { databaseUrl: db.url, redisUrl, prefix }, conn, queue };
  setups.push(s);
  return s;
}

/** Indexes named by the jobs workers have in hand right now (they go on whatever Redis loses). */
async function inHand(queue: Queue<RunBatchJob>, sweepId: string): Promise<Set<number>> {
  const jobs = await queue.getJobs(['active']);
  return new Set(jobs.filter((j) => j?.data?.sweepId === sweepId).flatMap((j) => j.data.indexes));
}

/** Ms from `since` to the first claim of a run queued at `since` and outside `held`. */
async function runningAgain(pool: pg.Pool, sweepId: string, queuedAt: Set<number>, held: Set<number>, since: number): Promise<number> {
  const watch = [...queuedAt].filter((i) => !held.has(i));
  return waitFor('the sweep running again', async () => {
    const { rows } = await pool.query<{ t: Date | null }>(
      `SELECT min(started_at) AS t FROM runs WHERE sweep_id = $1 AND index = ANY($2::int[]) AND started_at IS NOT NULL`, [sweepId, watch]);
    return rows[0].t ? rows[0].t.getTime() - since : undefined;
  }, 90_000, 100);
}

/** Ms from `since` until jobs of the sweep wait in the queue again (the reconciler's). */
function reenqueued(queue: Queue<RunBatchJob>, sweepId: string, since: number): Promise<number> {
  return waitFor('jobs of the sweep back in the queue', async () => {
    try {
      const jobs = await queue.getJobs(['wait', 'prioritized', 'active']);
      return jobs.some((j) => j?.data?.sweepId === sweepId && /:r\d+:/.test(j.id ?? '')) ? Date.now() - since : undefined;
    } catch {
      return undefined;
    }
  }, 90_000, 100);
}

async function queuedIndexes(pool: pg.Pool, sweepId: string): Promise<Set<number>> {
  const { rows } = await pool.query<{ index: number }>(`SELECT index FROM runs WHERE sweep_id = $1 AND status = 'queued'`, [sweepId]);
  return new Set(rows.map((r) => r.index));
}

async function checkExactlyOnce(s: Setup, id: string, total: number) {
  const status = await waitFinished(s.pool, id, 180_000);
  const report = await storageReport(s.pool, id, total);
  const { rows } = await s.pool.query<{ n: number; d: number }>(
    'SELECT count(*)::int AS n, count(DISTINCT result_id)::int AS d FROM runs WHERE sweep_id = $1', [id]);
  const results = Number((await s.pool.query('SELECT count(*) AS n FROM results')).rows[0].n);
  return { status, report, runRows: rows[0].n, distinctResults: rows[0].d, results };
}

afterAll(async () => {
  for (const s of setups) {
    await s.group.killAll();
    await s.queue.obliterate({ force: true }).catch(() => {});
    await s.queue.close().catch(() => {});
    s.conn.disconnect();
    await s.pool.end();
    await s.db.drop();
  }
});

describe('fault: jobs lost from Redis under a running sweep', () => {
  let redis: OwnRedis | undefined;
  afterAll(async () => { await redis?.stop(); });

  it('(a) an older append-only file restored after kill -9: running again within 30 s, every run exactly once', async () => {
    redis = await startOwnRedis({ appendonly: true, appendfsync: 'everysec' });
    const s = await setUp(redis.url, uniqueName('q'));
    const t0 = Date.now();
    const api = await spawnApi(s.group, s.target, { LOG_LEVEL: 'warn' });
    const { key } = await makeTeam(s.pool, `faults-aof-${s.target.prefix}`);
    await Promise.all([spawnWorker(s.group, s.target), spawnWorker(s.group, s.target)]);
    await sleep(1500); // let everything reach the append-only file

    // The copy the crash will fall back to: Redis as it was before the sweep existed.
    const aofDir = join(redis.dir, 'appendonlydir');
    const snapshot = join(redis.dir, 'appendonlydir.snapshot');
    cpSync(aofDir, snapshot, { recursive: true });
    const snapshotAt = Date.now();
    const { id, total } = await submit(api.url, key, spec('fault-aof'));
    await waitFor('sweep running', async () => ((await runCounts(s.pool, id)).succeeded ?? 0) >= 4, 30_000, 50);
    const held = await inHand(s.queue, id);
    await redis.kill();
    const killedAt = Date.now();
    rmSync(aofDir, { recursive: true, force: true });
    cpSync(snapshot, aofDir, { recursive: true });
    const queuedAtFault = await queuedIndexes(s.pool, id);
    await redis.start();
    const restartedAt = Date.now();
    const jobsAfterRestore = await waitFor('queue readable', async () => {
      try {
        return await s.queue.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'paused');
      } catch {
        return undefined;
      }
    }, 20_000);

    const [reenqueuedMs, recoveryMs] = await Promise.all([
      reenqueued(s.queue, id, restartedAt), runningAgain(s.pool, id, queuedAtFault, held, restartedAt)]);
    const end = await checkExactlyOnce(s, id, total);
    recordFault('lost-jobs-aof', {
      injected: 1, lost: end.report.lost.length, duplicated: end.report.duplicated.length, sweepStatus: end.status,
      byStatus: end.report.byStatus, maxAttempts: end.report.maxAttempts, snapshotAgeAtKillMs: killedAt - snapshotAt,
      queuedAtFault: queuedAtFault.size, inHandAtFault: held.size, jobsAfterRestore,
      reenqueuedSeconds: reenqueuedMs / 1000, runningAgainSeconds: recoveryMs / 1000, seconds: (Date.now() - t0) / 1000,
    });
    console.log(`lost-jobs-aof: ${queuedAtFault.size} queued runs lost their jobs; enqueued again ${(reenqueuedMs / 1000).toFixed(1)} s and running again ${(recoveryMs / 1000).toFixed(1)} s after the restart`);

    expect(queuedAtFault.size).toBeGreaterThan(held.size); // the fault did strand runs
    expect(jobsAfterRestore.wait + jobsAfterRestore.prioritized + jobsAfterRestore.delayed).toBe(0); // the sweep's jobs were gone
    expect(recoveryMs).toBeLessThan(RECOVERY_TARGET_MS);
    expect(end.status).toBe('succeeded');
    expect(end.report.byStatus).toEqual({ succeeded: total });
    expect(end.report.lost).toEqual([]);
    expect(end.report.duplicated).toEqual([]);
    expect(end.report.badLinks).toEqual([]);
    expect({ rows: end.runRows, distinct: end.distinctResults, results: end.results }).toEqual({ rows: total, distinct: total, results: total });
  }, 300_000);

  it('(b) the queue emptied through bull-board: running again within 30 s, every run exactly once', async () => {
    const shared = await createTestRedis();
    const s = await setUp(shared.url, shared.prefix);
    const t0 = Date.now();
    const api = await spawnApi(s.group, s.target, { LOG_LEVEL: 'warn' });
    const { teamId, key } = await makeTeam(s.pool, `faults-empty-${s.target.prefix}`);
    const admin = (await createKey(s.pool, teamId, { name: 'operator', role: 'admin' })).key;
    await Promise.all([spawnWorker(s.group, s.target), spawnWorker(s.group, s.target)]);
    const { id, total } = await submit(api.url, key, spec('fault-empty'));
    await waitFor('sweep running', async () => ((await runCounts(s.pool, id)).succeeded ?? 0) >= 4, 30_000, 50);

    const held = await inHand(s.queue, id);
    const queuedAtFault = await queuedIndexes(s.pool, id);
    const emptied = await fetch(`${api.url}/admin/queues/api/queues/${RUNS_QUEUE}/empty`, {
      method: 'PUT', headers: { authorization: `Bearer ${admin}` },
    });
    const emptiedAt = Date.now();
    expect(emptied.status).toBe(200);
    const left = await s.queue.getJobCounts('wait', 'prioritized', 'delayed');
    expect(left.wait + left.prioritized + left.delayed).toBe(0);

    const [reenqueuedMs, recoveryMs] = await Promise.all([
      reenqueued(s.queue, id, emptiedAt), runningAgain(s.pool, id, queuedAtFault, held, emptiedAt)]);
    const end = await checkExactlyOnce(s, id, total);
    recordFault('lost-jobs-bull-board-empty', {
      injected: 1, lost: end.report.lost.length, duplicated: end.report.duplicated.length, sweepStatus: end.status,
      byStatus: end.report.byStatus, maxAttempts: end.report.maxAttempts, queuedAtFault: queuedAtFault.size, inHandAtFault: held.size,
      reenqueuedSeconds: reenqueuedMs / 1000, runningAgainSeconds: recoveryMs / 1000, seconds: (Date.now() - t0) / 1000,
    });
    console.log(`lost-jobs-bull-board-empty: ${queuedAtFault.size} queued runs lost their jobs; enqueued again ${(reenqueuedMs / 1000).toFixed(1)} s and running again ${(recoveryMs / 1000).toFixed(1)} s after the empty`);

    expect(queuedAtFault.size).toBeGreaterThan(held.size);
    expect(recoveryMs).toBeLessThan(RECOVERY_TARGET_MS);
    expect(end.status).toBe('succeeded');
    expect(end.report.byStatus).toEqual({ succeeded: total });
    expect(end.report.lost).toEqual([]);
    expect(end.report.duplicated).toEqual([]);
    expect(end.report.badLinks).toEqual([]);
    expect({ rows: end.runRows, distinct: end.distinctResults, results: end.results }).toEqual({ rows: total, distinct: total, results: total });
  }, 300_000);
});
