// GET shapes and pagination of sweeps and runs, one run with its trajectory, and 404s.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { CORE_VERSION, simulate } from '@curation/core';
import { compileSweep } from '@curation/sweep-spec';
import { encodeTrajectory, insertResults } from '@curation/db';
import { setup, spec, type Env, type TeamKey } from './helpers.ts';

let env: Env;
let app: FastifyInstance;
let auth: TeamKey;

beforeAll(async () => {
  env = await setup();
  app = await env.app();
  auth = await env.team();
});
afterAll(async () => { await env?.close(); });

const get = (url: string) => app.inject({ method: 'GET', url, headers: auth.headers });

async function submit(s: object): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/v1/sweeps', payload: s, headers: auth.headers });
  expect(res.statusCode).toBe(201);
  await app.enqueuer.idle();
  return res.json().id;
}

/** What a worker does for a successful run, done directly. */
async function succeed(sweepId: string, index: number, s: object) {
  const config = compileSweep(s).configAt(index);
  const out = simulate(config as never);
  const ids = await insertResults(env.pool, [{
    configHash: `test-${sweepId}-${index}`, coreVersion: CORE_VERSION, gitRevision: 'test', config, summary: out.summary,
    trajectory: encodeTrajectory(out.trajectory), generator: out.generator ?? null, durationMs: 12.5,
  }]);
  const resultId = [...ids.values()][0];
  await env.pool.query(
    `UPDATE runs SET status = 'succeeded', result_id = $3, attempts = 1, started_at = now(), finished_at = now()
     WHERE sweep_id = $1 AND index = $2`,
    [sweepId, index, resultId],
  );
  return out;
}

describe('sweeps', () => {
  it('GET /v1/sweeps/:id has the documented shape, the spec as submitted, counts and an ETA', async () => {
    const s = spec(3, 2);
    const id = await submit(s);
    let body = (await get(`/v1/sweeps/${id}`)).json();
    expect(body).toEqual({
      id, name: 'test sweep 3x2', tags: ['test'], status: 'queued',
      counts: { total: 6, queued: 6, running: 0, succeeded: 0, failed: 0, cancelled: 0, reused: 0 },
      enqueued: 6, coreVersion: CORE_VERSION, createdAt: expect.any(String), startedAt: null, finishedAt: null, etaSeconds: null,
      spec: s,
    });

    await succeed(id, 0, s);
    await succeed(id, 1, s);
    await env.pool.query(`UPDATE runs SET status = 'running' WHERE sweep_id = $1 AND index = 2`, [id]);
    await env.pool.query(`UPDATE runs SET status = 'failed', error = 'boom' WHERE sweep_id = $1 AND index = 3`, [id]);
    await env.pool.query(`UPDATE sweeps SET status = 'running', started_at = now() - interval '30 seconds' WHERE id = $1`, [id]);
    body = (await get(`/v1/sweeps/${id}`)).json();
    expect(body.status).toBe('running');
    expect(body.counts).toEqual({ total: 6, queued: 2, running: 1, succeeded: 2, failed: 1, cancelled: 0, reused: 0 });
    // 3 finished in 30 s -> 0.1/s; 3 left -> about 30 s.
    expect(body.etaSeconds).toBeGreaterThanOrEqual(29);
    expect(body.etaSeconds).toBeLessThanOrEqual(32);
  });

  it('counts configurations without run rows as queued', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/sweeps', payload: spec(2, 2), headers: auth.headers });
    const id = res.json().id;
    await app.enqueuer.idle();
    await env.pool.query('DELETE FROM runs WHERE sweep_id = $1 AND index >= 2', [id]);
    expect((await get(`/v1/sweeps/${id}`)).json().counts).toMatchObject({ total: 4, queued: 4 });
  });

  it('GET /v1/sweeps pages newest first with a cursor, and filters by tag and status', async () => {
    const ids: string[] = [];
    for (let k = 0; k < 5; k++) ids.push(await submit(spec(1, 1, { name: `page ${k}`, tags: ['paged', k % 2 ? 'odd' : 'even'] })));
    await env.pool.query(`UPDATE sweeps SET status = 'running' WHERE id = $1`, [ids[3]]);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await get(`/v1/sweeps?tag=paged&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.statusCode).toBe(200);
      const page = res.json();
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((s: { id: string }) => s.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());

    const odd = (await get('/v1/sweeps?tag=odd')).json();
    expect(odd.items.map((s: { id: string }) => s.id)).toEqual([ids[3], ids[1]]);
    const running = (await get('/v1/sweeps?tag=paged&status=running')).json();
    expect(running.items.map((s: { id: string }) => s.id)).toEqual([ids[3]]);
    expect(running.nextCursor).toBeNull();
  });

  it('refuses bad query parameters with 400 and the parameter path', async () => {
    for (const q of ['limit=0', 'limit=101', 'limit=ten', 'status=done', 'cursor=not-a-cursor']) {
      const res = await get(`/v1/sweeps?${q}`);
      expect(res.statusCode, q).toBe(400);
      expect(res.json().issues[0].path, q).toMatch(/^\/querystring\//);
    }
  });
});

describe('runs', () => {
  let sweepId: string;
  const s = spec(5, 5);

  beforeAll(async () => {
    sweepId = await submit(s);
    await succeed(sweepId, 7, s);
    await env.pool.query(`UPDATE runs SET status = 'failed', error = 'the core threw', attempts = 1 WHERE sweep_id = $1 AND index IN (3, 9)`, [sweepId]);
  });

  it('GET /v1/sweeps/:id/runs pages by index with params, status, summary and error', async () => {
    const first = (await get(`/v1/sweeps/${sweepId}/runs?limit=10`)).json();
    expect(first.items.map((r: { index: number }) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(first.nextCursor).toEqual(expect.any(String));
    const run7 = first.items[7];
    expect(run7).toMatchObject({ index: 7, status: 'succeeded', params: { q: 0.3, beta: 1.25 }, error: null, attempts: 1 });
    expect(run7.summary).toMatchObject({ converged: expect.any(Boolean), final: expect.any(Object), basinShare: expect.any(Array) });
    expect(first.items[3]).toMatchObject({ status: 'failed', error: 'the core threw', summary: null });
    expect(first.items[0]).toEqual({
      id: expect.any(String), index: 0, params: { q: 0.1, beta: 0.5 }, status: 'queued', summary: null, error: null,
      attempts: 0, startedAt: null, finishedAt: null,
    });

    const all: number[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: { index: number }[]; nextCursor: string | null } = (await get(`/v1/sweeps/${sweepId}/runs?limit=7${cursor ? `&cursor=${cursor}` : ''}`)).json();
      all.push(...page.items.map((r: { index: number }) => r.index));
      cursor = page.nextCursor;
    } while (cursor);
    expect(all).toEqual(Array.from({ length: 25 }, (_, i) => i));
  });

  it('filters by status and bounds the limit', async () => {
    const failed = (await get(`/v1/sweeps/${sweepId}/runs?status=failed`)).json();
    expect(failed.items.map((r: { index: number }) => r.index)).toEqual([3, 9]);
    expect((await get(`/v1/sweeps/${sweepId}/runs?limit=1001`)).statusCode).toBe(400);
    expect((await get(`/v1/sweeps/${sweepId}/runs?cursor=-3`)).statusCode).toBe(400);
  });

  it('GET /v1/runs/:id returns the run with config, provenance and the whole trajectory', async () => {
    const page = (await get(`/v1/sweeps/${sweepId}/runs?limit=10`)).json();
    const out = simulate(compileSweep(s).configAt(7) as never);
    const res = await get(`/v1/runs/${page.items[7].id}`);
    expect(res.statusCode).toBe(200);
    const run = res.json();
    expect(run).toMatchObject({
      id: page.items[7].id, sweepId, index: 7, status: 'succeeded', coreVersion: CORE_VERSION, contract: Number(CORE_VERSION.split('.')[0]), gitRevision: 'test', durationMs: 12.5,
      configHash: `test-${sweepId}-7`,
    });
    expect(run.config).toMatchObject({ q: 0.3, beta: 1.25 });
    expect(run.trajectory).toHaveLength(out.trajectory.length);
    expect(run.trajectory[0]).toEqual(out.trajectory[0]); // step and shareStep null at t = 0 survive the codec and JSON
    expect(run.trajectory[0].shareStep).toBeNull();
    expect(run.trajectory[1].shareStep).toBe(out.trajectory[1].shareStep);
    expect(run.trajectory.at(-1)).toEqual(out.trajectory.at(-1));
    expect(run.summary).toEqual(JSON.parse(JSON.stringify(out.summary)));

    // Not run yet: the configuration is rebuilt from the spec, no trajectory.
    const queued = (await get(`/v1/runs/${page.items[0].id}`)).json();
    expect(queued).toMatchObject({ status: 'queued', trajectory: null, summary: null, coreVersion: null, contract: null });
    expect(queued.config).toEqual(compileSweep(s).configAt(0));
  });

  it('404 for unknown or malformed ids, never 500', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    for (const url of [
      `/v1/sweeps/${unknown}`, '/v1/sweeps/not-a-uuid', `/v1/sweeps/${unknown}/runs`, '/v1/sweeps/123/runs',
      '/v1/runs/999999999', '/v1/runs/abc', '/v1/runs/-1', '/v1/runs/99999999999999999999999', '/v1/nowhere',
    ]) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.json(), url).toMatchObject({ statusCode: 404, error: 'Not Found', message: expect.any(String) });
    }
  });
});
