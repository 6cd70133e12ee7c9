// Access control and limits: keys (401/403), teams (another team's sweep is a 404 exactly
// like an unknown one, on every route), admin keys, keys stored hashed, last use, rate
// limits shared through Redis, compute budgets, and idempotency keys per team.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { validateSweep } from '@curation/sweep-spec';
import { revokeKey } from '@curation/db';
import { waitFor } from '../../../test/support/wait-for.ts';
import { setup, spec, type Env, type TeamKey } from './helpers.ts';
import { MALFORMED_MESSAGE } from '../src/auth.ts';

let env: Env;
let app: FastifyInstance;
let teamA: TeamKey;
let teamB: TeamKey;
let admin: TeamKey;

beforeAll(async () => {
  env = await setup();
  app = await env.app();
  [teamA, teamB, admin] = await Promise.all([env.team(), env.team(), env.team({ admin: true })]);
});
afterAll(async () => { await env?.close(); });

const UNKNOWN = '00000000-0000-4000-8000-000000000000';
const basic = (password: string, user = 'me') => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function submit(who: TeamKey, s: object = spec(2, 2), target = app, headers: Record<string, string> = {}): Promise<string> {
  const res = await target.inject({ method: 'POST', url: '/v1/sweeps', payload: s, headers: { ...who.headers, ...headers } });
  expect(res.statusCode, res.body).toBe(201);
  await target.enqueuer.idle();
  return res.json().id;
}

describe('API keys', () => {
  it('401 without a key or with a malformed header, with the documented body', async () => {
    for (const authorization of [undefined, '', 'Bearer', 'Bearer ', 'Token abc', 'bearer a b', basic('x')]) {
      const res = await app.inject({ method: 'GET', url: '/v1/sweeps', headers: authorization === undefined ? {} : { authorization } });
      expect(res.statusCode, String(authorization)).toBe(401);
      expect(res.json()).toEqual({ statusCode: 401, error: 'Unauthorized', message: MALFORMED_MESSAGE });
      expect(res.headers['www-authenticate']).toBe('Bearer');
    }
    // Also before a body is read: a submission without a key is refused unparsed.
    const post = await app.inject({ method: 'POST', url: '/v1/sweeps', payload: '{not json', headers: { 'content-type': 'application/json' } });
    expect(post.statusCode).toBe(401);
  });

  it('401 for an unknown key and for a revoked one', async () => {
    const unknown = await app.inject({ method: 'GET', url: '/v1/sweeps', headers: { authorization: `Bearer cs_${'A'.repeat(43)}` } });
    expect(unknown.statusCode).toBe(401);
    expect(unknown.json()).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'invalid or revoked API key' });
    const junk = await app.inject({ method: 'GET', url: '/v1/sweeps', headers: { authorization: 'Bearer not-a-key-at-all' } });
    expect(junk.statusCode).toBe(401);

    const doomed = await env.team();
    expect((await app.inject({ method: 'GET', url: '/v1/sweeps', headers: doomed.headers })).statusCode).toBe(200);
    expect(await revokeKey(env.pool, doomed.keyId)).toBe(true);
    const after = await app.inject({ method: 'GET', url: '/v1/sweeps', headers: doomed.headers });
    expect(after.statusCode).toBe(401);
    expect(after.json().message).toBe('invalid or revoked API key');
  });

  it('stores keys hashed: the plaintext appears nowhere in the table', async () => {
    const { rows } = await env.pool.query('SELECT row_to_json(k)::text AS row, hash, prefix FROM api_keys k WHERE id = $1', [teamA.keyId]);
    expect(rows).toHaveLength(1);
    expect(rows[0].row).not.toContain(teamA.key);
    expect(rows[0].row).not.toContain(teamA.key.slice(12));
    expect(rows[0].hash).toBe(createHash('sha256').update(teamA.key).digest('hex'));
    expect(teamA.key).toMatch(/^cs_[A-Za-z0-9_-]{43}$/);
    expect(teamA.key.startsWith(rows[0].prefix)).toBe(true);
  });

  it('records when a key was last used', async () => {
    const fresh = await env.team();
    const before = await env.pool.query('SELECT last_used_at FROM api_keys WHERE id = $1', [fresh.keyId]);
    expect(before.rows[0].last_used_at).toBeNull();
    // The API stamps the key with its own clock (this process's), in the background
    // after the request: the stamp lies between the request's start and the moment
    // it is seen, to the millisecond Postgres keeps of it.
    const start = Date.now();
    await app.inject({ method: 'GET', url: '/v1/sweeps', headers: fresh.headers });
    const at = await waitFor<Date>('last_used_at written', async () =>
      (await env.pool.query<{ last_used_at: Date | null }>('SELECT last_used_at FROM api_keys WHERE id = $1', [fresh.keyId])).rows[0].last_used_at ?? undefined, 5000);
    const seen = Date.now();
    expect(at.getTime()).toBeGreaterThanOrEqual(start);
    expect(at.getTime()).toBeLessThanOrEqual(seen);
  });

  it('/health and /ready stay open; /docs is open unless DOCS_REQUIRE_AUTH', async () => {
    for (const url of ['/health', '/ready', '/v1/health', '/v1/ready']) {
      expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(200);
    }
    expect((await app.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(200);
    const locked = await env.app({ docsRequireAuth: true });
    const no = await locked.inject({ method: 'GET', url: '/docs/json' });
    expect(no.statusCode).toBe(401);
    expect(no.headers['www-authenticate']).toMatch(/^Basic realm=/);
    expect((await locked.inject({ method: 'GET', url: '/docs/json', headers: teamA.headers })).statusCode).toBe(200);
    expect((await locked.inject({ method: 'GET', url: '/docs/json', headers: { authorization: basic(teamA.key) } })).statusCode).toBe(200);
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('/metrics and /admin/queues need an admin key (Bearer, or Basic from a browser); METRICS_PUBLIC opens /metrics', async () => {
    for (const url of ['/metrics', '/admin/queues', '/admin/queues/api/queues']) {
      const none = await app.inject({ method: 'GET', url });
      expect(none.statusCode, url).toBe(401);
      expect(none.headers['www-authenticate'], url).toMatch(/^Basic realm=/);
      const member = await app.inject({ method: 'GET', url, headers: teamA.headers });
      expect(member.statusCode, url).toBe(403);
      expect(member.json().message).toMatch(/admin key/);
      expect((await app.inject({ method: 'GET', url, headers: admin.headers })).statusCode, url).toBe(200);
      expect((await app.inject({ method: 'GET', url, headers: { authorization: basic(admin.key, '') } })).statusCode, url).toBe(200);
    }
    const open = await env.app({ metricsPublic: true });
    expect((await open.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
    expect((await open.inject({ method: 'GET', url: '/admin/queues' })).statusCode).toBe(401);
  });
});

describe('teams', () => {
  let sweepA: string;
  let runA: string;
  let runUnknown: string;

  beforeAll(async () => {
    sweepA = await submit(teamA, spec(2, 2, { name: 'team A sweep', tags: ['shared-tag'] }));
    const { rows } = await env.pool.query('SELECT id::text FROM runs WHERE sweep_id = $1 ORDER BY index LIMIT 1', [sweepA]);
    runA = rows[0].id;
    runUnknown = '999999999';
  });

  const routes = (sweep: string, run: string) => [
    ['GET', `/v1/sweeps/${sweep}`],
    ['GET', `/v1/sweeps/${sweep}/runs`],
    ['GET', `/v1/sweeps/${sweep}/stats`],
    ['GET', `/v1/sweeps/${sweep}/runs.csv`],
    ['GET', `/v1/sweeps/${sweep}/runs.ndjson`],
    ['GET', `/v1/sweeps/${sweep}/plot.svg?x=q`],
    ['GET', `/v1/sweeps/${sweep}/plot.svg?x=q&y=beta`],
    ['POST', `/v1/sweeps/${sweep}/cancel`],
    ['POST', `/v1/sweeps/${sweep}/retry`],
    ['GET', `/v1/runs/${run}`],
    ['GET', `/v1/runs/${run}/plot.svg`],
  ] as const;

  it("another team's sweep and runs are a 404 on every route, with the same body as an unknown id", async () => {
    const foreign = routes(sweepA, runA);
    const unknown = routes(UNKNOWN, runUnknown);
    for (let i = 0; i < foreign.length; i++) {
      const [method, url] = foreign[i];
      const res = await app.inject({ method, url, headers: teamB.headers });
      const ref = await app.inject({ method, url: unknown[i][1], headers: teamB.headers });
      expect(ref.statusCode, unknown[i][1]).toBe(404);
      expect(res.statusCode, url).toBe(404);
      const body = res.json();
      body.message = body.message.replace(sweepA, UNKNOWN).replace(`"${runA}"`, `"${runUnknown}"`);
      expect(body, url).toEqual(ref.json());
      expect(res.headers['content-type']).toBe(ref.headers['content-type']);
    }
    // Nothing changed: B's cancel did not cancel A's sweep.
    const own = await app.inject({ method: 'GET', url: `/v1/sweeps/${sweepA}`, headers: teamA.headers });
    expect(own.statusCode).toBe(200);
    expect(own.json().status).toBe('queued');
  });

  it('the owner and admin keys reach every route', async () => {
    for (const who of [teamA, admin]) {
      for (const [method, url] of routes(sweepA, runA)) {
        if (method === 'POST') continue;
        const res = await app.inject({ method, url, headers: who.headers });
        // A queued run has no trajectory to plot yet: a 404 that says so, not "not found".
        if (url.endsWith(`/runs/${runA}/plot.svg`)) {
          expect(res.json().message, url).toMatch(/no trajectory yet/);
          continue;
        }
        expect(res.statusCode, `${url}: ${res.body.slice(0, 200)}`).toBe(200);
      }
    }
  });

  it('lists and compares only the own team\'s sweeps; an admin key sees every sweep, also those from before teams', async () => {
    const sweepB = await submit(teamB, spec(1, 2, { name: 'team B sweep', tags: ['shared-tag'] }));
    await env.pool.query(
      `INSERT INTO sweeps (id, name, tags, spec, total, core_version) VALUES ($1, 'legacy', '{shared-tag}', '{}', 0, 'test')`,
      [UNKNOWN.replace(/^0/, '1')],
    );
    const legacy = UNKNOWN.replace(/^0/, '1');
    const ids = async (who: TeamKey, url: string, pick: (b: any) => { id: string }[]) =>
      pick((await app.inject({ method: 'GET', url, headers: who.headers })).json()).map((s) => s.id);

    const listA = await ids(teamA, '/v1/sweeps?limit=100', (b) => b.items);
    expect(listA).toContain(sweepA);
    expect(listA).not.toContain(sweepB);
    expect(listA).not.toContain(legacy);
    expect(await ids(teamB, '/v1/sweeps?limit=100', (b) => b.items)).toEqual([sweepB]);
    expect(await ids(teamB, '/v1/stats?tag=shared-tag', (b) => b.sweeps)).toEqual([sweepB]);

    const all = await ids(admin, '/v1/sweeps?limit=100', (b) => b.items);
    expect(all).toEqual(expect.arrayContaining([sweepA, sweepB, legacy]));
    expect(await ids(admin, '/v1/stats?tag=shared-tag', (b) => b.sweeps)).toEqual(expect.arrayContaining([sweepA, sweepB, legacy]));
    expect((await app.inject({ method: 'GET', url: `/v1/sweeps/${legacy}`, headers: admin.headers })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: `/v1/sweeps/${legacy}`, headers: teamA.headers })).statusCode).toBe(404);
    // An admin may cancel any team's sweep.
    expect((await app.inject({ method: 'POST', url: `/v1/sweeps/${sweepB}/cancel`, headers: admin.headers })).statusCode).toBe(200);
  });

  it('stores the submitting team and the estimated cost on the sweep', async () => {
    const { rows } = await env.pool.query('SELECT team_id, estimated_cost_seconds FROM sweeps WHERE id = $1', [sweepA]);
    expect(rows[0].team_id).toBe(teamA.teamId);
    const checked = validateSweep(spec(2, 2, { name: 'team A sweep', tags: ['shared-tag'] }));
    expect(checked.ok).toBe(true);
    if (checked.ok) expect(rows[0].estimated_cost_seconds).toBeCloseTo(checked.cost.totalSeconds, 12);
  });

  it('idempotency keys are per team: two teams may use the same key', async () => {
    const headers = { 'idempotency-key': 'same-key-two-teams' };
    const a = await submit(teamA, spec(2, 1), app, headers);
    const b = await submit(teamB, spec(2, 1), app, headers);
    expect(a).not.toBe(b);
    const againA = await app.inject({ method: 'POST', url: '/v1/sweeps', payload: spec(2, 1), headers: { ...teamA.headers, ...headers } });
    expect(againA.statusCode).toBe(200);
    expect(againA.json().id).toBe(a);
    // A different spec under B's key conflicts with B's sweep only.
    const conflict = await app.inject({ method: 'POST', url: '/v1/sweeps', payload: spec(3, 1), headers: { ...teamB.headers, ...headers } });
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json().message).toContain(b);
    expect(conflict.json().message).not.toContain(a);
  });
});

describe('limits', () => {
  it('rate limit per key, shared by two API instances through Redis: 429 with the limit and when to retry', async () => {
    const limit = { max: 5, windowMs: 60_000 };
    const [one, two] = [await env.app({ rateLimit: limit }), await env.app({ rateLimit: limit })];
    // Both connected to Redis (/ready checks it; /ready itself is never limited).
    for (const a of [one, two]) await waitFor('/v1/ready answering 200', async () => (await a.inject({ method: 'GET', url: '/v1/ready' })).statusCode === 200, 5000);
    const who = await env.team();
    const other = await env.team();
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await (i % 2 ? two : one).inject({ method: 'GET', url: '/v1/sweeps', headers: who.headers });
      codes.push(res.statusCode);
      expect(res.headers['x-ratelimit-limit']).toBe('5');
    }
    expect(codes).toEqual([200, 200, 200, 200, 200]);
    for (const a of [one, two]) {
      const res = await a.inject({ method: 'GET', url: '/v1/sweeps', headers: who.headers });
      expect(res.statusCode).toBe(429);
      const body = res.json();
      expect(body).toMatchObject({ statusCode: 429, error: 'Too Many Requests', limit: 5, windowSeconds: 60 });
      expect(body.message).toMatch(/at most 5 requests per minute for this API key; retry after \d+ s/);
      expect(body.retryAfterSeconds).toBeGreaterThan(0);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    }
    // Another key has its own budget; probes are never limited.
    expect((await one.inject({ method: 'GET', url: '/v1/sweeps', headers: other.headers })).statusCode).toBe(200);
    for (let i = 0; i < 8; i++) expect((await one.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it('unknown keys are counted per client address: past the limit 429, while a valid key from that address is served', async () => {
    const app = await env.app({ rateLimit: { max: 100, windowMs: 60_000, authFailures: 3 } });
    await waitFor('/v1/ready answering 200', async () => (await app.inject({ method: 'GET', url: '/v1/ready' })).statusCode === 200, 5000);
    const guess = (remoteAddress: string, i: number) =>
      app.inject({ method: 'GET', url: '/v1/sweeps', remoteAddress, headers: { authorization: `Bearer cs_${String(i).padStart(43, 'G')}` } });
    for (let i = 0; i < 3; i++) expect((await guess('10.9.0.1', i)).statusCode).toBe(401);
    const refused = await guess('10.9.0.1', 3);
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ statusCode: 429, limit: 3, windowSeconds: 60 });
    expect(refused.json().message).toMatch(/too many requests with an unknown API key from this client address: at most 3 per minute; retry after \d+ s/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect((await guess('10.9.0.1', 4)).statusCode).toBe(429);
    // A valid key from that address is served: one client guessing keys behind a shared
    // address (a proxy, a NAT) must not lock the others out...
    const keyed = await app.inject({ method: 'GET', url: '/v1/sweeps', remoteAddress: '10.9.0.1', headers: teamA.headers });
    expect(keyed.statusCode, keyed.body).toBe(200);
    // ...other addresses are untouched, and a good key never counts as a failure.
    expect((await app.inject({ method: 'GET', url: '/v1/sweeps', remoteAddress: '10.9.0.2', headers: teamA.headers })).statusCode).toBe(200);
    expect((await guess('10.9.0.2', 0)).statusCode).toBe(401);
  });

  it('31 unknown keys and then a valid key from the same address, at the default limit: the valid key gets 200', async () => {
    const app = await env.app({ rateLimit: { max: 1000, windowMs: 60_000, authFailures: 30 } });
    await waitFor('/v1/ready answering 200', async () => (await app.inject({ method: 'GET', url: '/v1/ready' })).statusCode === 200, 5000);
    const codes: number[] = [];
    for (let i = 0; i < 31; i++) {
      const res = await app.inject({ method: 'GET', url: '/v1/sweeps', remoteAddress: '10.9.1.1', headers: { authorization: `Bearer cs_${String(i).padStart(43, 'H')}` } });
      codes.push(res.statusCode);
    }
    expect(codes.filter((c) => c === 401)).toHaveLength(30);
    expect(codes[30]).toBe(429);
    for (const route of ['/v1/sweeps', '/v1/stats?tag=x']) {
      const res = await app.inject({ method: 'GET', url: route, remoteAddress: '10.9.1.1', headers: teamA.headers });
      expect(res.statusCode, `${route}: ${res.body}`).toBe(200);
    }
    const posted = await app.inject({ method: 'POST', url: '/v1/sweeps', payload: spec(1, 1), remoteAddress: '10.9.1.1', headers: teamA.headers });
    expect(posted.statusCode, posted.body).toBe(201);
    await app.enqueuer.idle();
  });

  it('X-Forwarded-For is ignored by default, and names the client with TRUST_PROXY', async () => {
    const viaProxy = (target: FastifyInstance, client: string, i: number) =>
      target.inject({
        method: 'GET', url: '/v1/sweeps', remoteAddress: '10.0.0.5',
        headers: { 'x-forwarded-for': client, authorization: `Bearer cs_${String(i).padStart(43, 'J')}` },
      });
    // Default: every request through the proxy is the proxy's address, and a client can not
    // escape the count by sending a header of its own.
    const plain = await env.app({ rateLimit: { max: 1000, windowMs: 60_000, authFailures: 2 } });
    await waitFor('/v1/ready answering 200', async () => (await plain.inject({ method: 'GET', url: '/v1/ready' })).statusCode === 200, 5000);
    expect((await viaProxy(plain, '192.0.2.1', 0)).statusCode).toBe(401);
    expect((await viaProxy(plain, '192.0.2.2', 1)).statusCode).toBe(401);
    expect((await viaProxy(plain, '192.0.2.3', 2)).statusCode).toBe(429);
    // Trusting the proxy (a CIDR list, as TRUST_PROXY=10.0.0.0/8 gives): each client is counted apart.
    const settings: (string[] | number | boolean)[] = [['10.0.0.0/8'], 1, true];
    for (const [k, trustProxy] of settings.entries()) {
      const trusting = await env.app({ rateLimit: { max: 1000, windowMs: 60_000, authFailures: 2 }, trustProxy });
      await waitFor('/v1/ready answering 200', async () => (await trusting.inject({ method: 'GET', url: '/v1/ready' })).statusCode === 200, 5000);
      const client = `198.51.100.${k}`;
      expect((await viaProxy(trusting, client, 0)).statusCode).toBe(401);
      expect((await viaProxy(trusting, client, 1)).statusCode).toBe(401);
      expect((await viaProxy(trusting, client, 2)).statusCode).toBe(429);
      expect((await viaProxy(trusting, `203.0.113.${k}`, 3)).statusCode).toBe(401);
    }
    // With a list, a client outside it that sends the header itself is still its own address.
    const listed = await env.app({ rateLimit: { max: 1000, windowMs: 60_000, authFailures: 2 }, trustProxy: ['10.0.0.0/8'] });
    const direct = (i: number) => listed.inject({
      method: 'GET', url: '/v1/sweeps', remoteAddress: '192.0.2.50',
      headers: { 'x-forwarded-for': `198.18.0.${i}`, authorization: `Bearer cs_${String(i).padStart(43, 'K')}` },
    });
    expect([(await direct(0)).statusCode, (await direct(1)).statusCode, (await direct(2)).statusCode]).toEqual([401, 401, 429]);
  });

  it('with Redis down, the rate limit lets requests through instead of failing them', async () => {
    const down = await env.app({ redisUrl: 'redis://127.0.0.1:1', rateLimit: { max: 1, windowMs: 60_000 } });
    for (let i = 0; i < 3; i++) {
      const res = await down.inject({ method: 'GET', url: '/v1/sweeps', headers: teamA.headers });
      expect(res.statusCode).toBe(200);
    }
  });

  it('compute budget per team: 422 with the numbers; cancelled sweeps free their share', async () => {
    const s = spec(3, 2);
    const checked = validateSweep(s);
    if (!checked.ok) throw new Error('spec should be valid');
    const cost = checked.cost.totalSeconds;
    expect(cost).toBeGreaterThan(0);
    const who = await env.team({ budgetSeconds: cost * 1.5 });

    const first = await submit(who, s);
    const refused = await app.inject({ method: 'POST', url: '/v1/sweeps', payload: spec(3, 2, { name: 'second' }), headers: who.headers });
    expect(refused.statusCode).toBe(422);
    const body = refused.json();
    expect(body.message).toMatch(/compute budget exceeded/);
    expect(body.budget.budgetSeconds).toBeCloseTo(cost * 1.5, 9);
    expect(body.budget.usedSeconds).toBeCloseTo(cost, 9);
    expect(body.budget.requestedSeconds).toBeCloseTo(cost, 9);
    expect(body.issues).toEqual([{ path: '', message: body.message }]);
    expect((await env.pool.query('SELECT count(*)::int AS n FROM sweeps WHERE team_id = $1', [who.teamId])).rows[0].n).toBe(1);

    // Other teams are not affected.
    await submit(teamA, spec(3, 2, { name: 'other team' }));

    // Cancelling frees the budget; retrying the cancelled sweep then no longer fits.
    expect((await app.inject({ method: 'POST', url: `/v1/sweeps/${first}/cancel`, headers: who.headers })).statusCode).toBe(200);
    await submit(who, spec(3, 2, { name: 'second' }));
    const retry = await app.inject({ method: 'POST', url: `/v1/sweeps/${first}/retry`, headers: who.headers });
    expect(retry.statusCode).toBe(422);
    expect(retry.json().message).toMatch(/compute budget exceeded/);
  });

  it('concurrent submissions cannot overrun the budget together', async () => {
    const s = spec(2, 2);
    const checked = validateSweep(s);
    if (!checked.ok) throw new Error('spec should be valid');
    const who = await env.team({ budgetSeconds: checked.cost.totalSeconds * 2.5 });
    const replies = await Promise.all(Array.from({ length: 6 }, (_, k) =>
      app.inject({ method: 'POST', url: '/v1/sweeps', payload: spec(2, 2, { name: `c${k}` }), headers: who.headers })));
    expect(replies.map((r) => r.statusCode).sort()).toEqual([201, 201, 422, 422, 422, 422]);
  });

  it('413 names the body limit', async () => {
    const tiny = await env.app({ bodyLimit: 2048 });
    const res = await tiny.inject({ method: 'POST', url: '/v1/sweeps', payload: spec(2, 2, { description: 'x'.repeat(4096) }), headers: teamA.headers });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ statusCode: 413, error: 'Payload Too Large', limitBytes: 2048 });
    expect(res.json().message).toBe('the request body is larger than the limit of 2048 bytes (BODY_LIMIT_BYTES)');
  });

  it('422 beyond the maximum configurations per sweep, naming the limit', async () => {
    const small = await env.app({ limits: { maxConfigs: 5, maxCostSeconds: 300 } });
    const res = await small.inject({ method: 'POST', url: '/v1/sweeps', payload: spec(3, 2), headers: teamA.headers });
    expect(res.statusCode).toBe(422);
    expect(res.json().issues[0]).toMatchObject({ path: '/axes', message: expect.stringMatching(/more than the limit of 5/) });
  });
});
