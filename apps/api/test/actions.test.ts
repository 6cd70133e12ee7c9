// Cancel and retry: state changes, the cancel message, new jobs, and the 409s.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createRedis } from '@curation/queue';
import { setup, spec, type Env, type TeamKey } from './helpers.ts';
import { waitFor } from '../../../test/support/wait-for.ts';

let env: Env;
let app: FastifyInstance;
let auth: TeamKey;

beforeAll(async () => {
  env = await setup();
  app = await env.app();
  auth = await env.team();
});
afterAll(async () => { await env?.close(); });

const post = (url: string) => app.inject({ method: 'POST', url, headers: auth.headers });

async function submit(s: object, target = app): Promise<string> {
  const res = await target.inject({ method: 'POST', url: '/v1/sweeps', payload: s, headers: auth.headers });
  expect(res.statusCode).toBe(201);
  await target.enqueuer.idle();
  return res.json().id;
}

const statuses = async (id: string) =>
  (await env.pool.query('SELECT index, status FROM runs WHERE sweep_id = $1 ORDER BY index', [id])).rows.map((r) => r.status);

const jobsOf = async (id: string) =>
  (await env.queue.getJobs(['waiting', 'delayed', 'prioritized'])).filter((j) => j.data.sweepId === id);

describe('cancel', () => {
  it('cancels queued runs, leaves running ones to the workers, and tells them on Redis', async () => {
    const id = await submit(spec(3, 2));
    await env.pool.query(`UPDATE runs SET status = 'running' WHERE sweep_id = $1 AND index = 0`, [id]);
    await env.pool.query(`UPDATE runs SET status = 'succeeded' WHERE sweep_id = $1 AND index = 1`, [id]);
    await env.pool.query(`UPDATE sweeps SET status = 'running', started_at = now() WHERE id = $1`, [id]);

    const sub = createRedis(env.redisUrl, { enableOfflineQueue: true });
    const messages: string[] = [];
    sub.on('message', (channel, msg) => { if (channel === `${env.prefix}:cancel`) messages.push(msg); });
    await sub.subscribe(`${env.prefix}:cancel`);
    try {
      const res = await post(`/v1/sweeps/${id}/cancel`);
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body).toMatchObject({ id, status: 'cancelled', affected: 4, etaSeconds: null, finishedAt: expect.any(String) });
      expect(body.counts).toEqual({ total: 6, queued: 0, running: 1, succeeded: 1, failed: 0, cancelled: 4, reused: 0 });
      // The rows follow in the background; meanwhile they read as cancelled (above).
      await app.enqueuer.idle();
      expect(await statuses(id)).toEqual(['running', 'succeeded', 'cancelled', 'cancelled', 'cancelled', 'cancelled']);
      await waitFor('the cancel message', () => messages.includes(id), 5000);
    } finally {
      sub.disconnect();
    }
  });

  it('409 for a finished sweep, 404 for an unknown one', async () => {
    const id = await submit(spec(1, 2));
    await env.pool.query(`UPDATE runs SET status = 'succeeded' WHERE sweep_id = $1`, [id]);
    await env.pool.query(`UPDATE sweeps SET status = 'succeeded', finished_at = now() WHERE id = $1`, [id]);
    const res = await post(`/v1/sweeps/${id}/cancel`);
    expect(res.statusCode).toBe(409);
    expect(res.json().message).toMatch(/already succeeded/);
    expect((await post(`/v1/sweeps/${id}/cancel`)).statusCode).toBe(409);
    expect((await post('/v1/sweeps/00000000-0000-4000-8000-000000000000/cancel')).statusCode).toBe(404);
    expect((await post('/v1/sweeps/nope/cancel')).statusCode).toBe(404);
  });

  it('stops an enqueue in progress; configurations never enqueued count as cancelled', async () => {
    const slow = await env.app({ enqueueChunkSize: 100 });
    const res = await slow.inject({ method: 'POST', url: '/v1/sweeps', payload: spec(100, 100), headers: auth.headers });
    const id = res.json().id;
    const cancel = await slow.inject({ method: 'POST', url: `/v1/sweeps/${id}/cancel`, headers: auth.headers });
    expect(cancel.statusCode).toBe(200);
    await slow.enqueuer.idle();
    const { rows } = await env.pool.query('SELECT enqueued, total FROM sweeps WHERE id = $1', [id]);
    expect(rows[0].enqueued).toBeLessThan(rows[0].total);
    const queued = await env.pool.query(`SELECT count(*)::int AS n FROM runs WHERE sweep_id = $1 AND status <> 'cancelled'`, [id]);
    expect(queued.rows[0].n).toBe(0);
    const counts = (await slow.inject({ method: 'GET', url: `/v1/sweeps/${id}`, headers: auth.headers })).json().counts;
    expect(counts).toEqual({ total: 10_000, queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 10_000, reused: 0 });

    // Retry re-runs everything, including what was never enqueued.
    const retry = await slow.inject({ method: 'POST', url: `/v1/sweeps/${id}/retry`, headers: auth.headers });
    expect(retry.statusCode).toBe(200);
    expect(retry.json().status).toBe('queued');
    await slow.enqueuer.idle();
    await waitFor('10,000 runs enqueued', async () => (await env.pool.query('SELECT enqueued FROM sweeps WHERE id = $1', [id])).rows[0].enqueued === 10_000);
    const after = (await slow.inject({ method: 'GET', url: `/v1/sweeps/${id}`, headers: auth.headers })).json().counts;
    expect(after).toEqual({ total: 10_000, queued: 10_000, running: 0, succeeded: 0, failed: 0, cancelled: 0, reused: 0 });
  }, 60_000);
});

describe('retry', () => {
  it('re-queues only failed and cancelled runs, with new job ids, and reopens the sweep', async () => {
    const id = await submit(spec(3, 2));
    await env.pool.query(`UPDATE runs SET status = 'succeeded', finished_at = now() WHERE sweep_id = $1 AND index IN (0, 1, 2)`, [id]);
    await env.pool.query(`UPDATE runs SET status = 'failed', error = 'boom', attempts = 5, finished_at = now() WHERE sweep_id = $1 AND index IN (3, 5)`, [id]);
    await env.pool.query(`UPDATE runs SET status = 'cancelled', finished_at = now() WHERE sweep_id = $1 AND index = 4`, [id]);
    await env.pool.query(`UPDATE sweeps SET status = 'failed', started_at = now() - interval '1 minute', finished_at = now() WHERE id = $1`, [id]);
    const jobsBefore = await jobsOf(id);

    const res = await post(`/v1/sweeps/${id}/retry`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ id, status: 'running', finishedAt: null, affected: 3 });
    expect(body.counts).toMatchObject({ succeeded: 3, queued: 3, failed: 0, cancelled: 0 });
    expect(await statuses(id)).toEqual(['succeeded', 'succeeded', 'succeeded', 'queued', 'queued', 'queued']);
    const err = await env.pool.query('SELECT error FROM runs WHERE sweep_id = $1 AND index = 3', [id]);
    expect(err.rows[0].error).toBeNull();

    const fresh = (await jobsOf(id)).filter((j) => !jobsBefore.some((b) => b.id === j.id));
    expect(fresh.flatMap((j) => j.data.indexes)).toEqual([3, 4, 5]);
    expect(fresh.every((j) => /^[0-9a-f-]{36}:[1-9]\d*:\d+$/.test(j.id!))).toBe(true);

    // Nothing failed or cancelled any more: 409.
    const again = await post(`/v1/sweeps/${id}/retry`);
    expect(again.statusCode).toBe(409);
    expect(again.json().message).toMatch(/no failed or cancelled/);
  });

  it('409 for a sweep that succeeded, 404 for unknown ids', async () => {
    const id = await submit(spec(1, 1));
    await env.pool.query(`UPDATE runs SET status = 'succeeded' WHERE sweep_id = $1`, [id]);
    await env.pool.query(`UPDATE sweeps SET status = 'succeeded', finished_at = now() WHERE id = $1`, [id]);
    expect((await post(`/v1/sweeps/${id}/retry`)).statusCode).toBe(409);
    expect((await post('/v1/sweeps/00000000-0000-4000-8000-000000000000/retry')).statusCode).toBe(404);
    expect((await post('/v1/sweeps/x/retry')).statusCode).toBe(404);
  });

  it('accepts a bodiless POST sent with a JSON content type', async () => {
    const id = await submit(spec(1, 1));
    const res = await app.inject({ method: 'POST', url: `/v1/sweeps/${id}/cancel`, headers: { ...auth.headers, 'content-type': 'application/json' } });
    expect(res.statusCode).toBe(200);
  });
});
