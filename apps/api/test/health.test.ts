// Health, readiness (also when Redis or Postgres is down), OpenAPI docs, error shape.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import pino from 'pino';
import { waitFor } from '../../../test/support/wait-for.ts';
import { setup, spec, type Env, type TeamKey } from './helpers.ts';
import { errorHandler } from '../src/errors.ts';

let env: Env;
let auth: TeamKey;
beforeAll(async () => {
  env = await setup();
  auth = await env.team();
});
afterAll(async () => { await env?.close(); });

describe('health and readiness', () => {
  it('/health and /ready answer 200 when both services are up', async () => {
    const app = await env.app();
    for (const url of ['/v1/health', '/health']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.json()).toEqual({ status: 'ok' });
    }
    const ready = await app.inject({ method: 'GET', url: '/v1/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', postgres: 'ok', redis: 'ok' });
  });

  it('/ready is 503 naming Redis when Redis is unreachable, and answers quickly', async () => {
    const app = await env.app({ redisUrl: 'redis://127.0.0.1:1' });
    const t0 = Date.now();
    const res = await app.inject({ method: 'GET', url: '/v1/ready' });
    expect(Date.now() - t0).toBeLessThan(2500);
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ status: 'unavailable', postgres: 'ok' });
    expect(res.json().redis).not.toBe('ok');
    expect((await app.inject({ method: 'GET', url: '/v1/health' })).statusCode).toBe(200);
  });

  it('accepts a sweep while Redis is down (enqueued later) and still closes promptly', async () => {
    // The enqueuer's warnings, to know it tried the queue, failed and is backing off.
    const warnings: string[] = [];
    const sink = { write: (line: string) => { const o = JSON.parse(line); if (o.level >= 40) warnings.push(o.msg); } };
    const app = await env.app({ redisUrl: 'redis://127.0.0.1:1', logger: pino({ level: 'warn' }, sink) });
    const res = await app.inject({ method: 'POST', url: '/v1/sweeps', payload: spec(2, 2), headers: auth.headers });
    expect(res.statusCode).toBe(201);
    await waitFor('the enqueuer fails on Redis and retries', () => warnings.includes('enqueuer: chunk failed, retrying'));
    const { rows } = await env.pool.query('SELECT enqueued FROM sweeps WHERE id = $1', [res.json().id]);
    expect(rows[0].enqueued).toBe(0);
    const t0 = Date.now();
    await app.close();
    expect(Date.now() - t0).toBeLessThan(5000);
    // A healthy instance picks it up at start-up.
    const healthy = await env.app();
    await healthy.enqueuer.idle();
    const after = await env.pool.query('SELECT enqueued FROM sweeps WHERE id = $1', [res.json().id]);
    expect(after.rows[0].enqueued).toBe(4);
  });

  it('/ready is 503 naming Postgres when Postgres is unreachable; other routes answer 503, not 500', async () => {
    const app = await env.app({ databaseUrl: 'postgresql://postgres@127.0.0.1:1/nowhere' });
    const res = await app.inject({ method: 'GET', url: '/ready' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ status: 'unavailable', redis: 'ok' });
    expect(res.json().postgres).not.toBe('ok');
    const list = await app.inject({ method: 'GET', url: '/v1/sweeps', headers: auth.headers });
    expect(list.statusCode).toBe(503);
    expect(list.json().message).not.toMatch(/at .*\.ts/); // no stack trace
  });
});

describe('docs and errors', () => {
  it('serves the OpenAPI document and the UI', async () => {
    const app = await env.app();
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining([
      '/v1/sweeps', '/v1/sweeps/{id}', '/v1/sweeps/{id}/runs', '/v1/runs/{id}', '/v1/sweeps/{id}/cancel',
      '/v1/sweeps/{id}/retry', '/v1/health', '/v1/ready',
    ]));
    const post = doc.paths['/v1/sweeps'].post;
    expect(Object.keys(post.requestBody.content)).toEqual(expect.arrayContaining(['application/json', 'application/yaml']));
    expect(Object.keys(post.responses)).toEqual(expect.arrayContaining(['201', '400', '413', '415', '422']));
    const ui = await app.inject({ method: 'GET', url: '/docs' });
    expect([200, 302]).toContain(ui.statusCode);
  });

  it('echoes a request id', async () => {
    const app = await env.app();
    const res = await app.inject({ method: 'GET', url: '/v1/health', headers: { 'x-request-id': 'abc-123' } });
    expect(res.headers['x-request-id']).toBe('abc-123');
  });

  it('a 500 names the request id and leaks neither the message nor the stack', async () => {
    const bare = Fastify({ logger: false });
    bare.setErrorHandler(errorHandler);
    bare.get('/boom', async () => { throw new Error('secret detail at /srv/app.ts:12'); });
    const res = await bare.inject({ method: 'GET', url: '/boom' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ statusCode: 500, error: 'Internal Server Error', message: expect.stringMatching(/^internal error \(request id req-/) });
    expect(res.body).not.toMatch(/secret|app\.ts/);
    await bare.close();
  });
});
