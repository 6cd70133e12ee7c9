// End-to-end fixtures: the real API (buildApp, driven through inject) and real worker
// processes (`node --import tsx apps/worker/src/main.ts`), on a fresh database and
// BullMQ prefix per test file.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { createKey, createTeam, decodeTrajectory } from '@curation/db';
import { simulate } from '@curation/core';
import { compileSweep } from '@curation/sweep-spec';
import { buildApp } from '../../apps/api/src/app.ts';
import { createTestDatabase, createTestRedis, type TestDatabase } from '../support/services.ts';
import { waitFor } from '../support/wait-for.ts';

export { waitFor };

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Env {
  db: TestDatabase;
  pool: pg.Pool;
  redis: { url: string; prefix: string };
  app: FastifyInstance;
  /** Authorization header of a team key (every /v1 route needs one). */
  auth: { authorization: string };
  workers: WorkerProcess[];
  /** An authenticated request to the API. */
  request(method: 'GET' | 'POST', url: string, payload?: object): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/** Stops every worker process of `env` (tests in one file share the prefix, so leftovers would steal jobs). */
export async function stopWorkers(env: Env): Promise<void> {
  await Promise.all(env.workers.map((w) => w.kill('SIGKILL')));
  env.workers.length = 0;
}

export async function setup(): Promise<Env> {
  const db = await createTestDatabase();
  const redis = await createTestRedis();
  const app = await buildApp({ databaseUrl: db.url, redisUrl: redis.url, prefix: redis.prefix, enqueueChunkSize: 50 });
  await app.ready();
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  const team = await createTeam(pool, `e2e-${redis.prefix}`);
  const { key } = await createKey(pool, team.id, { name: 'e2e' });
  const auth = { authorization: `Bearer ${key}` };
  const env: Env = {
    db, pool, redis, app, auth, workers: [],
    request: (method, url, payload) => app.inject({ method, url, headers: auth, ...(payload ? { payload } : {}) }),
    async close() {
      await stopWorkers(env);
      await app.close();
      await pool.end();
      await db.drop();
    },
  };
  return env;
}

export interface WorkerProcess {
  child: ChildProcess;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `npm run worker`'s process and resolves once it consumes jobs. */
export async function spawnWorker(env: Env, extra: Record<string, string> = {}): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'apps/worker/src/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: env.db.url,
      REDIS_URL: env.redis.url,
      QUEUE_PREFIX: env.redis.prefix,
      WORKER_CONCURRENCY: '1',
      LOG_LEVEL: 'info',
      ...extra,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })));
  const w: WorkerProcess = {
    child,
    exit,
    output: () => out,
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exit;
    },
  };
  env.workers.push(w);
  await waitFor('worker started', async () => {
    if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode}: ${out}`);
    return out.includes('"worker started"');
  }, 30_000, 50);
  return w;
}


export async function submit(env: Env, spec: unknown): Promise<{ id: string; total: number }> {
  const res = await env.request('POST', '/v1/sweeps', spec as object);
  if (res.statusCode !== 201) throw new Error(`submit: ${res.statusCode} ${res.body}`);
  return res.json();
}

export interface SweepView { id: string; status: string; counts: Record<string, number>; enqueued: number; total: number }

export async function getSweep(env: Env, id: string): Promise<SweepView> {
  const res = await env.request('GET', `/v1/sweeps/${id}`);
  if (res.statusCode !== 200) throw new Error(`get sweep: ${res.statusCode} ${res.body}`);
  return res.json();
}

export function waitStatus(env: Env, id: string, statuses: string[], timeoutMs = 60_000): Promise<SweepView> {
  return waitFor(`sweep ${id} in ${statuses.join('|')}`, async () => {
    const s = await getSweep(env, id);
    return statuses.includes(s.status) ? s : undefined;
  }, timeoutMs, 150);
}

export async function runCounts(env: Env, id: string): Promise<Record<string, number>> {
  const { rows } = await env.pool.query<{ status: string; n: number }>(
    'SELECT status, count(*)::int AS n FROM runs WHERE sweep_id = $1 GROUP BY status', [id]);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/**
 * The storage invariants of a finished sweep: one run row per index, all succeeded,
 * each linked to a result whose summary and trajectory equal a clean in-process
 * computation of configAt(i).
 */
export async function expectStoredLikeCleanRun(env: Env, id: string, spec: unknown, expect: (v: unknown) => any) {
  const compiled = compileSweep(spec);
  const { rows } = await env.pool.query(
    `SELECT r.index, r.status, r.error, s.summary, s.trajectory, s.generator, s.core_version, s.git_revision,
            s.converged, s.nash_gap, s.basin_share0, s.final_entropy, s.surviving_basins, s.collapsed
       FROM runs r LEFT JOIN results s ON s.id = r.result_id WHERE r.sweep_id = $1 ORDER BY r.index`, [id]);
  const perIndex = await env.pool.query('SELECT index, count(*)::int AS n FROM runs WHERE sweep_id = $1 GROUP BY index HAVING count(*) > 1', [id]);
  expect(perIndex.rows).toEqual([]);
  expect(rows.map((r) => r.index)).toEqual(Array.from({ length: compiled.total }, (_, i) => i));
  for (const r of rows) {
    expect({ index: r.index, status: r.status, error: r.error }).toEqual({ index: r.index, status: 'succeeded', error: null });
    const clean = simulate(compiled.configAt(r.index));
    // Through JSON like the stored copy (-0 becomes 0, and so on).
    expect(r.summary).toEqual(JSON.parse(JSON.stringify(clean.summary)));
    expect(decodeTrajectory(r.trajectory)).toEqual(clean.trajectory);
    expect(r.generator).toBe(clean.generator);
    expect(r.converged).toBe(clean.summary.converged);
    expect(r.basin_share0).toBe(clean.summary.basinShare[0]);
    expect(r.nash_gap).toBe(clean.summary.nashGap);
    expect(r.final_entropy).toBe(clean.summary.final.entropy);
    expect(r.surviving_basins).toBe(clean.summary.survivingBasins);
    expect(r.collapsed).toBe(clean.summary.collapsed);
  }
  return rows;
}

/** q x D on the paper's C.4 geometry (grid over [-12, 12], rewards centred -D/2 and D/2), scaled by `n` and `iterations`. */
export function c4Spec(opts: { name: string; qs: number[]; ds: number[]; n: number; iterations: number; recordEvery?: number }) {
  return {
    name: opts.name,
    tags: ['e2e'],
    base: {
      support: { kind: 'grid', min: -12, max: 12, n: opts.n },
      rewards: [{ kind: 'quadratic', center: 0 }, { kind: 'quadratic', center: 0 }],
      K: 'inf',
      // Real data keeps every atom alive, so a run costs n m T whatever q and D: the
      // tests size their runs (long enough to kill or cancel one mid-way) by it.
      realFraction: 0.05,
      iterations: opts.iterations,
      eps: 0.5,
      recordEvery: opts.recordEvery ?? Math.max(1, Math.floor(opts.iterations / 20)),
    },
    axes: [
      { param: 'q', values: opts.qs },
      { param: 'D', values: opts.ds },
    ],
    derive: { 'rewards.0.center': '[-D/2]', 'rewards.1.center': '[D/2]' },
  };
}
