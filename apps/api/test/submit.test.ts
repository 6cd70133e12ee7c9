// POST /v1/sweeps: what a submission stores and queues, idempotency, YAML, and every refusal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { FastifyInstance } from 'fastify';
import { setup, spec, BASE, type Env, type TeamKey } from './helpers.ts';

let env: Env;
let app: FastifyInstance;
let auth: TeamKey;

beforeAll(async () => {
  env = await setup();
  app = await env.app();
  auth = await env.team();
});
afterAll(async () => { await env?.close(); });

const post = (payload: unknown, headers: Record<string, string> = {}, target = app) =>
  target.inject({ method: 'POST', url: '/v1/sweeps', payload: payload as object, headers: { ...auth.headers, ...headers } });

const sweepCount = async () => Number((await env.pool.query('SELECT count(*) FROM sweeps')).rows[0].count);

describe('POST /v1/sweeps', () => {
  it('answers 201 and enqueues run rows and BullMQ jobs in the background', async () => {
    const res = await post(spec(3, 2));
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), total: 6, status: 'queued' });
    expect(res.headers.location).toBe(`/v1/sweeps/${body.id}`);
    await app.enqueuer.idle();

    const runs = await env.pool.query('SELECT index, params, status FROM runs WHERE sweep_id = $1 ORDER BY index', [body.id]);
    expect(runs.rows.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(runs.rows.every((r) => r.status === 'queued')).toBe(true);
    expect(runs.rows[0].params).toEqual({ q: 0.1, beta: 0.5 });
    expect(runs.rows[5].params).toEqual({ q: 0.9, beta: 2 });

    const sweep = (await env.pool.query('SELECT enqueued, total, spec, name, tags FROM sweeps WHERE id = $1', [body.id])).rows[0];
    expect(sweep).toMatchObject({ enqueued: 6, total: 6, name: 'test sweep 3x2', tags: ['test'] });
    expect(sweep.spec).toEqual(spec(3, 2));

    // Cheap configurations share one job; its id is deterministic.
    const job = await env.queue.getJob(`${body.id}:0:0`);
    expect(job?.data).toEqual({ sweepId: body.id, indexes: [0, 1, 2, 3, 4, 5] });
    expect(job?.opts).toMatchObject({ attempts: 5, backoff: { type: 'exponential', delay: 1000 } });
    expect((await env.queue.getWaiting()).filter((j) => j.data.sweepId === body.id)).toHaveLength(1);
  });

  it('returns the first sweep for a repeated Idempotency-Key (200, no second sweep)', async () => {
    const before = await sweepCount();
    const first = await post(spec(2, 2), { 'idempotency-key': 'seq-1' });
    const again = await post(spec(2, 2), { 'idempotency-key': 'seq-1' });
    expect(first.statusCode).toBe(201);
    expect(again.statusCode).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json().id).toBe(first.json().id);
    expect(await sweepCount()).toBe(before + 1);
  });

  it('creates exactly one sweep for 5 concurrent submissions with the same key', async () => {
    const before = await sweepCount();
    const replies = await Promise.all(Array.from({ length: 5 }, () => post(spec(2, 3), { 'idempotency-key': 'concurrent-1' })));
    const ids = new Set(replies.map((r) => r.json().id));
    expect(ids.size).toBe(1);
    expect(replies.map((r) => r.statusCode).sort()).toEqual([200, 200, 200, 200, 201]);
    expect(await sweepCount()).toBe(before + 1);
    await app.enqueuer.idle();
    const runs = await env.pool.query('SELECT count(*)::int AS n FROM runs WHERE sweep_id = $1', [[...ids][0]]);
    expect(runs.rows[0].n).toBe(6);
  });

  it('also across two API instances', async () => {
    const other = await env.app();
    const replies = await Promise.all([0, 1, 2, 3].map((k) => post(spec(2, 2), { 'idempotency-key': 'two-apps' }, k % 2 ? other : app)));
    expect(new Set(replies.map((r) => r.json().id)).size).toBe(1);
    expect((await env.pool.query(`SELECT count(*)::int AS n FROM sweeps WHERE idempotency_key = 'two-apps'`)).rows[0].n).toBe(1);
  });

  it('refuses a reused Idempotency-Key with a different spec (409)', async () => {
    await post(spec(2, 2), { 'idempotency-key': 'reuse' });
    const res = await post(spec(3, 3), { 'idempotency-key': 'reuse' });
    expect(res.statusCode).toBe(409);
    expect(res.json().message).toMatch(/different specification/);
  });

  it('accepts YAML with Content-Type application/yaml and stores the parsed spec', async () => {
    const s = spec(2, 2, { name: 'from yaml' });
    const res = await app.inject({ method: 'POST', url: '/v1/sweeps', payload: stringify(s), headers: { ...auth.headers, 'content-type': 'application/yaml' } });
    expect(res.statusCode).toBe(201);
    expect(res.json().total).toBe(4);
    const stored = await env.pool.query('SELECT spec FROM sweeps WHERE id = $1', [res.json().id]);
    expect(stored.rows[0].spec).toEqual(s);
    const text = await app.inject({ method: 'POST', url: '/v1/sweeps', payload: stringify(s), headers: { ...auth.headers, 'content-type': 'text/yaml; charset=utf-8' } });
    expect(text.statusCode).toBe(201);
  });
});

describe('refusals', () => {
  it('400 with a JSON pointer and a reason for each schema error', async () => {
    const before = await sweepCount();
    const res = await post({ name: 3, base: {}, axes: [{ param: 'q', values: 'x' }], colour: 'red' });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    // The spec compiler's issues, which say what is allowed and what was found.
    expect(body.issues).toEqual([
      { path: '/colour', message: 'unknown field "colour" (allowed here: name, tags, description, base, axes, derive, refine)' },
      { path: '/name', message: 'name must be a string of 1 to 200 characters, got the number 3' },
      { path: '/axes/0/values', message: 'values must be a list of numbers, strings or booleans, got a string' },
    ]);
    expect(await sweepCount()).toBe(before);
  });

  it('400 for a missing field, no body, a non-object body and a bad header', async () => {
    const missing = await post({ name: 'no base' });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().issues).toEqual([{ path: '/base', message: 'base (the RunConfig every configuration starts from) is required' }]);
    const none = await app.inject({ method: 'POST', url: '/v1/sweeps', headers: auth.headers });
    expect(none.statusCode).toBe(400);
    const empty = await app.inject({ method: 'POST', url: '/v1/sweeps', payload: '', headers: { ...auth.headers, 'content-type': 'application/json' } });
    expect(empty.statusCode).toBe(400);
    const arr = await post([1, 2]);
    expect(arr.statusCode).toBe(400);
    expect(arr.json().issues[0]).toEqual({ path: '', message: 'a sweep specification must be an object { name, base, axes, derive }, got an array' });
    const header = await post(spec(), { 'idempotency-key': 'k'.repeat(300) });
    expect(header.statusCode).toBe(400);
    expect(header.json().issues[0].path).toBe('/headers/idempotency-key');
  });

  it('does not coerce types in the body', async () => {
    const res = await post({ ...spec(), tags: [7] });
    expect(res.statusCode).toBe(400);
    expect(res.json().issues).toEqual([{ path: '/tags/0', message: 'a tag must be a string of 1 to 100 characters, got the number 7' }]);
  });

  it('a YAML syntax error: the line, the column, the reason and the lines around it with a caret', async () => {
    const res = await app.inject({
      method: 'POST', url: '/v1/sweeps', headers: { ...auth.headers, 'content-type': 'application/yaml' },
      payload: 'name: x\nbase:\n  a: [1, 2\nb: 3\n',
    });
    expect(res.statusCode).toBe(400);
    const reason =
      'YAML syntax error at line 4, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]\n' +
      '      a: [1, 2\n    b: 3\n    ^';
    expect(res.json()).toMatchObject({ message: `the body is not valid YAML: ${reason}`, issues: [{ path: '', message: reason }] });
  });

  it('a misspelt axis kind: the whole line names the field and the kind meant, not the schema\'s "values is required"', async () => {
    const bad = { ...spec(), axes: [{ param: 'q', values: [0.3] }, { param: 'beta', linespace: [0.5, 1.5, 3] }] };
    const res = await post(bad);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'invalid sweep specification: /axes/1/linespace: unknown axis kind "linespace" (did you mean "linspace"?)',
      issues: [{ path: '/axes/1/linespace', message: 'unknown axis kind "linespace" (did you mean "linspace"?)' }],
    });
    // The same spec as YAML gives the same line.
    const yaml = await app.inject({
      method: 'POST', url: '/v1/sweeps', headers: { ...auth.headers, 'content-type': 'application/yaml' },
      payload: `name: ${bad.name}\nbase: ${JSON.stringify(bad.base)}\naxes:\n  - param: q\n    values: [0.3]\n  - param: beta\n    linespace: [0.5, 1.5, 3]\n`,
    });
    expect(yaml.json().message).toBe(res.json().message);
  });

  it('400 with a clear message for malformed JSON and YAML', async () => {
    const json = await app.inject({ method: 'POST', url: '/v1/sweeps', payload: '{"name": "x",', headers: { ...auth.headers, 'content-type': 'application/json' } });
    expect(json.statusCode).toBe(400);
    expect(json.json().message).toMatch(/not valid JSON.*line 1/);
    const yaml = await app.inject({ method: 'POST', url: '/v1/sweeps', payload: 'name: [unclosed\nbase: {}\n', headers: { ...auth.headers, 'content-type': 'application/yaml' } });
    expect(yaml.statusCode).toBe(400);
    expect(yaml.json().message).toMatch(/not valid YAML/);
  });

  it('422 naming the configuration index, the path and the reason; nothing stored', async () => {
    const before = await sweepCount();
    const bad = { name: 'bad config', base: BASE, axes: [{ param: 'iterations', values: [10, 20, -1] }] };
    const res = await post(bad);
    expect(res.statusCode).toBe(422);
    const body = res.json();
    expect(body.issues).toHaveLength(1);
    expect(body.issues[0]).toMatchObject({ index: 2, path: '/iterations' });
    expect(body.issues[0].message).toMatch(/>= 0|at least 0|must be/);
    expect(body.message).toMatch(/configuration 2/);
    expect(await sweepCount()).toBe(before);
  });

  it('422 for a spec problem (a param that is not in base)', async () => {
    const res = await post({ name: 'bad path', base: BASE, axes: [{ param: 'rewards.5.scale', values: [1] }] });
    expect(res.statusCode).toBe(422);
    expect(res.json().issues[0].path).toBe('/axes/0/param');
  });

  it('422 when a limit is exceeded (configurations per sweep, cost per configuration)', async () => {
    const small = await env.app({ limits: { maxConfigs: 5, maxCostSeconds: 300 } });
    const many = await post(spec(3, 2), {}, small);
    expect(many.statusCode).toBe(422);
    expect(many.json().message).toMatch(/6 configurations, more than the limit of 5/);
    const cheap = await env.app({ limits: { maxConfigs: 100, maxCostSeconds: 1e-9 } });
    const costly = await post(spec(2, 1), {}, cheap);
    expect(costly.statusCode).toBe(422);
    expect(costly.json().issues[0]).toMatchObject({ index: 0 });
    expect(costly.json().issues[0].message).toMatch(/too expensive/);
  });

  it('413 for a body over the limit', async () => {
    const tiny = await env.app({ bodyLimit: 2048 });
    const res = await post(spec(2, 2, { description: 'x'.repeat(4096) }), {}, tiny);
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ statusCode: 413, error: 'Payload Too Large', limitBytes: 2048 });
    expect(res.json().message).toMatch(/larger than the limit of 2048 bytes/);
  });

  it('415 for an unsupported content type', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/sweeps', payload: JSON.stringify(spec()), headers: { ...auth.headers, 'content-type': 'text/plain' } });
    expect(res.statusCode).toBe(415);
    expect(res.json()).toMatchObject({ statusCode: 415, error: 'Unsupported Media Type' });
  });
});
