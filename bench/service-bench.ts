// Service benchmark (issue 3): submission of a 100,000-configuration sweep (time to
// the 201, time until everything is queued, Redis memory per queued configuration);
// a 2,000-configuration sweep of small runs on two worker processes against the same
// configurations computed in one process on the same number of cores; and the rate at
// which results are stored. Uses a throwaway database and BullMQ prefix.
// BENCH_SMALL_N / BENCH_SMALL_T set the grid size and generations of the 2,000 runs
// (default 401 atoms, 300 generations: about 0.4 ms of core time each).
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import pg from 'pg';
import type { FastifyInstance } from 'fastify';
import { compileSweep } from '@curation/sweep-spec';
import { createRedis, RUNS_QUEUE } from '@curation/queue';
import { createTestDatabase, createTestRedis } from '../test/support/services.ts';
import { buildApp } from '../apps/api/src/app.ts';
import { createComputePool } from '../apps/worker/src/pool.ts';
import { StopFlag } from '../apps/worker/src/stop-flag.ts';
import { benchAuthHeaders } from './auth.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const C4_BASE = {
  support: { kind: 'grid', min: -12, max: 12, n: 401 },
  rewards: [{ kind: 'quadratic', center: 0 }, { kind: 'quadratic', center: 0 }],
  K: 'inf',
  iterations: 300,
  eps: 0.5,
  recordEvery: 10,
};
const DERIVE = { 'rewards.0.center': '[-D/2]', 'rewards.1.center': '[D/2]' };

function spec(name: string, qCount: number, dCount: number, base: object = C4_BASE) {
  return {
    name, tags: ['bench'], base,
    axes: [{ param: 'q', linspace: [0.02, 0.98, qCount] }, { param: 'D', linspace: [0.5, 8, dCount] }],
    derive: DERIVE,
  };
}

async function redisUsedMemory(client: Redis): Promise<number> {
  const info = await client.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

async function waitFor<T>(what: string, poll: () => Promise<T | undefined>, timeoutMs: number, stepMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await poll();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(stepMs);
  }
}

function startWorkerProcess(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(root, 'apps/worker/src/main.ts')], {
    cwd: root, env: { ...process.env, LOG_LEVEL: 'warn', WORKER_CONCURRENCY: '1', ...env }, stdio: ['ignore', 'ignore', 'inherit'],
  });
}
async function stop(child: ChildProcess) {
  if (child.exitCode !== null) return;
  await new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.kill('SIGTERM'); });
}

export async function runServiceBench(): Promise<Record<string, number>> {
  const db = await createTestDatabase();
  const redis = await createTestRedis();
  const connection = createRedis(redis.url);
  const queue = new Queue(RUNS_QUEUE, { connection, prefix: redis.prefix });
  let app: FastifyInstance | undefined;
  const workers: ChildProcess[] = [];
  const out: Record<string, number> = {};
  try {
    app = await buildApp({ databaseUrl: db.url, redisUrl: redis.url, prefix: redis.prefix, logger: false });
    await app.ready();
    const headers = await benchAuthHeaders(db.url);
    const get = async (url: string) => (await app!.inject({ url, headers })).json();

    // 1. Submission of 100,000 configurations (small grid, so validation is what costs).
    const memBefore = await redisUsedMemory(connection);
    const big = spec('bench-100k', 400, 250, { ...C4_BASE, support: { kind: 'grid', min: -12, max: 12, n: 61 } });
    let t0 = performance.now();
    const res = await app.inject({ method: 'POST', url: '/v1/sweeps', payload: big, headers });
    out.submit100kTo201Ms = performance.now() - t0;
    if (res.statusCode !== 201) throw new Error(`submission answered ${res.statusCode}: ${res.body}`);
    const bigId = res.json().id as string;
    await waitFor('100k enqueued', async () => ((await get(`/v1/sweeps/${bigId}`)).enqueued === 100_000 ? true : undefined), 300_000, 100);
    out.submit100kFullyQueuedMs = performance.now() - t0;
    out.redisBytesPerQueuedConfig = ((await redisUsedMemory(connection)) - memBefore) / 100_000;
    const counts = await queue.getJobCounts('waiting');
    out.jobsFor100k = counts.waiting;
    await app.inject({ method: 'POST', url: `/v1/sweeps/${bigId}/cancel`, headers });
    await queue.obliterate({ force: true });

    // 2. 2,000 small configurations: one process with a 2-thread pool (no queue, no
    //    database) against the service with two single-threaded worker processes.
    const small = spec('bench-2000', 40, 50, { ...C4_BASE, support: { kind: 'grid', min: -12, max: 12, n: Number(process.env.BENCH_SMALL_N ?? 401) }, iterations: Number(process.env.BENCH_SMALL_T ?? 300) });
    const compiled = compileSweep(small);
    const configs = Array.from({ length: compiled.total }, (_, i) => compiled.configAt(i));
    const cores = 2;
    const pool = createComputePool(cores);
    await Promise.all(Array.from({ length: cores * 4 }, () => pool.simulate(configs[0] as never, new StopFlag(), 60_000))); // warm the JIT
    t0 = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: cores }, async () => {
      while (next < configs.length) {
        const r = await pool.simulate(configs[next++] as never, new StopFlag(), 60_000);
        if (!r.ok) throw new Error('baseline run failed');
      }
    }));
    out.baseline2000Ms = performance.now() - t0;
    await pool.destroy();

    const env = { DATABASE_URL: db.url, REDIS_URL: redis.url, QUEUE_PREFIX: redis.prefix };
    for (let i = 0; i < cores; i++) workers.push(startWorkerProcess(env));
    await waitFor('workers', async () => ((await queue.getWorkersCount()) >= cores ? true : undefined), 60_000, 100);
    // Warm the workers as the baseline's pool was warmed (JIT of the core and of the
    // job path), on configurations other than the measured ones.
    const warm = await app.inject({ method: 'POST', url: '/v1/sweeps', payload: { ...spec('bench-warm-up', 10, 20, small.base), derive: { ...DERIVE, iterations: '301' } }, headers });
    const warmId = warm.json().id as string;
    await waitFor('warm-up', async () => ((await get(`/v1/sweeps/${warmId}`)).status === 'succeeded' ? true : undefined), 120_000, 50);
    t0 = performance.now();
    const sres = await app.inject({ method: 'POST', url: '/v1/sweeps', payload: small, headers });
    const smallId = sres.json().id as string;
    const final = await waitFor('2000 runs', async () => {
      const s = await get(`/v1/sweeps/${smallId}`);
      return ['succeeded', 'failed'].includes(s.status) ? s : undefined;
    }, 600_000, 50);
    out.service2000Ms = performance.now() - t0;
    out.serviceOverBaseline = out.service2000Ms / out.baseline2000Ms;
    out.ingestRunsPerSecond = final.counts.succeeded / (out.service2000Ms / 1000);
    if (final.counts.succeeded !== 2000) throw new Error(`service run ended ${JSON.stringify(final.counts)}`);
    // Where the wall time went, from the timestamps Postgres recorded.
    const phases = new pg.Client({ connectionString: db.url });
    await phases.connect();
    const { rows: [ph] } = await phases.query(
      `SELECT extract(epoch FROM min(r.started_at) - s.created_at) * 1000 AS to_first_claim,
              extract(epoch FROM max(r.finished_at) - min(r.started_at)) * 1000 AS claim_to_last_finish,
              extract(epoch FROM s.finished_at - max(r.finished_at)) * 1000 AS finish_lag,
              sum(res.duration_ms) AS core_ms
         FROM sweeps s JOIN runs r ON r.sweep_id = s.id JOIN results res ON res.id = r.result_id
        WHERE s.id = $1 GROUP BY s.id`, [smallId]);
    await phases.end();
    out.phaseToFirstClaimMs = Number(ph.to_first_claim);
    out.phaseClaimToLastFinishMs = Number(ph.claim_to_last_finish);
    out.phaseFinishLagMs = Number(ph.finish_lag);
    out.coreMsTotal = Number(ph.core_ms);

    // 3. Ingestion alone: the same 2,000 configurations again are deduplicated (link
    //    to the stored result, no compute), so this is the storage and queue path only.
    t0 = performance.now();
    const dres = await app.inject({ method: 'POST', url: '/v1/sweeps', payload: { ...small, name: 'bench-2000-again' }, headers });
    const dupId = dres.json().id as string;
    await waitFor('dedup runs', async () => {
      const s = await get(`/v1/sweeps/${dupId}`);
      return ['succeeded', 'failed'].includes(s.status) ? s : undefined;
    }, 600_000, 50);
    out.ingestDedupRunsPerSecond = 2000 / ((performance.now() - t0) / 1000);
  } finally {
    await Promise.all(workers.map(stop));
    await app?.close();
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    connection.disconnect(); // Queue.close leaves a connection it was given open
    await db.drop();
  }

  console.log('service benchmark (2 cores; timings noisy, compare ratios within one run)');
  console.log(`  100k submission: 201 after ${out.submit100kTo201Ms.toFixed(0)} ms, all queued after ${(out.submit100kFullyQueuedMs / 1000).toFixed(2)} s in ${out.jobsFor100k} jobs`);
  console.log(`  Redis memory per queued configuration: ${out.redisBytesPerQueuedConfig.toFixed(1)} bytes`);
  console.log(`  2,000 small runs: one process x ${2} threads ${(out.baseline2000Ms / 1000).toFixed(2)} s, service with 2 workers ${(out.service2000Ms / 1000).toFixed(2)} s -> ${out.serviceOverBaseline.toFixed(3)}x (target <= 1.15x)`);
  console.log(`    phases: submit -> first claim ${out.phaseToFirstClaimMs.toFixed(0)} ms, first claim -> last finish ${out.phaseClaimToLastFinishMs.toFixed(0)} ms, last finish -> sweep finished ${out.phaseFinishLagMs.toFixed(0)} ms; core time ${out.coreMsTotal.toFixed(0)} ms in all`);
  console.log(`  ingestion: ${out.ingestRunsPerSecond.toFixed(0)} runs/s stored while computing, ${out.ingestDedupRunsPerSecond.toFixed(0)} runs/s when deduplicated (storage path only)`);
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runServiceBench();
