// Property-based, over every route the app registers (read from its own OpenAPI document,
// so a route added later is covered without editing this file):
// - text Postgres cannot store (NUL, lone surrogates) in any path parameter, query
//   parameter or string of the body (values and property names, JSON and YAML) is a 400
//   whose issues name that field; bytes that are not UTF-8 are a 400 with their offset;
//   other odd text (invalid percent escapes, noncharacters) is never a 5xx;
// - an id in upper or mixed case gives exactly the answer of the lower-case id on every
//   :id route (a finished sweep's counts were wrong before).
//
// Reproducible: the seed is fixed (FC_SEED overrides it); FC_RUNS_SCALE scales the runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import pino from 'pino';
import { stringify as toYaml, parse as fromYaml } from 'yaml';
import type { FastifyInstance } from 'fastify';
// The type of app.swagger() (the plugin declares it on FastifyInstance).
import type {} from '@fastify/swagger';
import { startWorker, type RunningWorker } from '../../worker/src/worker.ts';
import { textProblem } from '../src/edge.ts';
import { waitFor } from '../../../test/support/wait-for.ts';
import { setup, spec, type Env, type TeamKey } from './helpers.ts';

const SEED = Number(process.env.FC_SEED ?? 20261213);
const SCALE = Number(process.env.FC_RUNS_SCALE ?? 1);
const runs = (n: number) => Math.max(10, Math.round(n * SCALE));

let env: Env;
let app: FastifyInstance;
let auth: TeamKey;
let worker: RunningWorker;
let sweepId = '';
let runId = '';
const statuses = new Map<number, number>();
let answered = 0;

/** A spec with a string in every kind of place: name, tags, description, params, values, derive, base. */
const RICH = () => ({
  ...spec(2, 1, { name: 'edge sweep', tags: ['edge', 'text'], description: 'a sweep with strings everywhere' }),
  axes: [
    { param: 'q', values: [0.3, 0.7] },
    { param: 'D', values: [1, 2] },
  ],
  derive: { 'rewards.0.center': '[-D/2]', 'rewards.1.center': '[D/2]' },
});

beforeAll(async () => {
  env = await setup();
  app = await env.app({ rateLimit: false });
  auth = await env.team();
  worker = await startWorker({ databaseUrl: env.db.url, redisUrl: env.redisUrl, prefix: env.prefix, concurrency: 1, logger: pino({ level: process.env.TEST_WORKER_LOG ?? 'silent' }) });
  const res = await app.inject({ method: 'POST', url: '/v1/sweeps', payload: RICH(), headers: auth.headers });
  expect(res.statusCode, res.body).toBe(201);
  sweepId = res.json().id;
  await waitFor('the sweep succeeded', async () => (await app.inject({ method: 'GET', url: `/v1/sweeps/${sweepId}`, headers: auth.headers })).json().status === 'succeeded', 100_000, 100);
  runId = (await app.inject({ method: 'GET', url: `/v1/sweeps/${sweepId}/runs`, headers: auth.headers })).json().items[0].id;
}, 150_000);

afterAll(async () => {
  if (answered) console.log(`edge inputs: ${answered} requests, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
  await worker?.close();
  await env?.close();
});

// ------------------------------------------------------------------ the routes, from the app's schemas

interface Field { in: 'path' | 'query'; name: string; list: boolean }
interface Route { method: string; path: string; fields: Field[]; body: boolean }

function routes(): Route[] {
  const doc = app.swagger() as { paths: Record<string, Record<string, { parameters?: { in: string; name: string; schema: Record<string, unknown> }[]; requestBody?: unknown }>> };
  const out: Route[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const fields: Field[] = [];
      for (const p of op.parameters ?? []) {
        if (p.in !== 'path' && p.in !== 'query') continue;
        // Integer parameters too: '1\u0000' is text before it is a number.
        fields.push({ in: p.in, name: p.name, list: Array.isArray(p.schema.anyOf) });
      }
      out.push({ method: method.toUpperCase(), path, fields, body: !!op.requestBody });
    }
  }
  return out;
}

/** Valid values of every parameter, so that only the field under test is wrong. */
const VALID_QUERY: Record<string, string> = { x: 'q', y: 'D', z: 'summary.nashGap', tag: 'edge', metrics: 'summary.nashGap', groupBy: 'q', where: 'q>=0.1', limit: '5' };

function pathOf(r: Route, id?: string): string {
  const own = r.path.startsWith('/v1/runs/') ? runId : sweepId;
  return r.path.replace('{id}', encodeURIComponent(id ?? own));
}

function urlOf(r: Route, field: Field | null, value: string, asList = false): string {
  const own = r.path.startsWith('/v1/runs/') ? runId : sweepId;
  const path = r.path.replace('{id}', field?.in === 'path' ? encodeURIComponent(value) : own);
  const q = new URLSearchParams();
  for (const f of r.fields) {
    if (f.in !== 'query') continue;
    if (f === field) {
      if (asList) q.append(f.name, VALID_QUERY[f.name] ?? 'a');
      q.append(f.name, value);
    } else if (f.name === 'x') q.append('x', 'q');
  }
  const qs = q.toString();
  return qs ? `${path}?${qs}` : path;
}

function record(status: number) {
  answered++;
  statuses.set(status, (statuses.get(status) ?? 0) + 1);
}

// ------------------------------------------------------------------ generators

const BAD_UNITS = ['\u0000', '\ud800', '\udbff', '\udc00', '\udfff'];
/** Text with at least one NUL or unpaired surrogate somewhere in it. */
const badText = fc.tuple(fc.string({ maxLength: 8, unit: 'binary' }), fc.constantFrom(...BAD_UNITS), fc.string({ maxLength: 8, unit: 'binary' }))
  .map(([a, c, b]) => a + c + b)
  .filter((s) => textProblem(s) !== null);
/** Text with a NUL and nothing else wrong (what a URL can carry: %00). */
const nulText = fc.tuple(fc.string({ maxLength: 8, unit: 'binary' }), fc.string({ maxLength: 8, unit: 'binary' })).map(([a, b]) => `${a}\u0000${b}`);
/** Text that is odd but storable: controls, noncharacters, BOM, paired surrogates, long runs. */
const oddText = fc.oneof(
  fc.constantFrom('\u0001\u001f\u007f', '\ufffe\uffff', '\ufeff', '\ud83d\ude00', '\u202e', 'é'.normalize('NFD'), '%', '%zz', '%%00', 'x'.repeat(5000)),
  fc.string({ maxLength: 20, unit: 'binary' }).filter((s) => textProblem(s) === null),
);
/** Percent escapes a query string may carry: NUL, and byte sequences that are not UTF-8. */
const ESCAPES = ['%00', 'a%00b', '%FF', '%C0%80', '%ED%A0%80', '%ED%B0%80', '%F4%90%80%80', '%E2%82', '%'];

/** Every place in a value where a string sits (value or property name), as a path of keys. */
function stringPlaces(v: unknown, at: (string | number)[] = [], out: { path: (string | number)[]; key: boolean }[] = []) {
  if (typeof v === 'string') out.push({ path: at, key: false });
  else if (Array.isArray(v)) v.forEach((x, i) => stringPlaces(x, [...at, i], out));
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      out.push({ path: [...at, k], key: true });
      stringPlaces(x, [...at, k], out);
    }
  }
  return out;
}

const pointer = (p: (string | number)[]) => p.map((k) => `/${String(k).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');

/** A copy of RICH with the string at `place` (or the property name there) replaced by `text`. */
function plant(place: { path: (string | number)[]; key: boolean }, text: string): { body: Record<string, unknown>; expected: string } {
  const body = structuredClone(RICH()) as Record<string, unknown>;
  let o = body as Record<string | number, unknown>;
  for (const k of place.path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  const last = place.path[place.path.length - 1];
  if (place.key) {
    const entries = Object.entries(o).map(([k, v]) => [k === last ? text : k, v] as const);
    for (const k of Object.keys(o)) delete o[k];
    for (const [k, v] of entries) o[k] = v;
    return { body, expected: pointer(place.path.slice(0, -1)) };
  }
  o[last] = text;
  return { body, expected: pointer(place.path) };
}

// ------------------------------------------------------------------ checks

/** A 400 whose issues name `path` (or a path inside it). */
function expectNamed(res: { statusCode: number; body: string }, path: string, what: string) {
  record(res.statusCode);
  const show = `${what}: status ${res.statusCode}, body ${res.body.slice(0, 300)}`;
  if (res.statusCode !== 400) throw new Error(`expected 400 naming ${path}: ${show}`);
  const body = JSON.parse(res.body);
  const named = (body.issues ?? []).some((i: { path: string }) => i.path === path || i.path.startsWith(`${path}/`));
  if (!named) throw new Error(`no issue at ${path}: ${show}`);
}

function expectNot5xx(res: { statusCode: number; body: string }, what: string) {
  record(res.statusCode);
  if (res.statusCode >= 500) throw new Error(`${what}: ${res.statusCode} ${res.body.slice(0, 300)}`);
  if (res.statusCode === 400 || res.statusCode === 422) {
    const body = JSON.parse(res.body);
    if (!Array.isArray(body.issues) || !body.issues.length) throw new Error(`${what}: a ${res.statusCode} without issues: ${res.body.slice(0, 300)}`);
  }
}

const inject = (method: string, url: string, o: { payload?: string | Buffer; contentType?: string } = {}) =>
  app.inject({
    method: method as 'GET', url, payload: o.payload,
    headers: { ...auth.headers, ...(o.contentType ? { 'content-type': o.contentType } : {}) },
  });

describe('text that cannot be stored is a 400 naming its field, on every route', () => {
  it('enumerates the routes and their fields from the OpenAPI document', () => {
    const all = routes();
    const names = all.map((r) => `${r.method} ${r.path}`);
    expect(names).toEqual(expect.arrayContaining([
      'POST /v1/sweeps', 'GET /v1/sweeps', 'GET /v1/sweeps/{id}', 'GET /v1/sweeps/{id}/stats', 'GET /v1/stats',
      'GET /v1/sweeps/{id}/plot.svg', 'GET /v1/sweeps/{id}/runs.csv', 'GET /v1/runs/{id}',
    ]));
    const fields = all.flatMap((r) => r.fields.map((f) => `${r.path} ${f.in}:${f.name}`));
    expect(fields).toEqual(expect.arrayContaining(['/v1/sweeps query:tag', '/v1/sweeps/{id}/stats query:where', '/v1/stats query:tag', '/v1/sweeps/{id}/plot.svg query:x']));
  });

  it('every path and query parameter of every route, with NUL (given once, and repeated where a list is allowed)', async () => {
    // A lone surrogate cannot travel in a URL: it has no UTF-8 form, and the escapes of its
    // CESU-8 bytes (%ED%A0%80) stay literal text (see the next tests). NUL travels as %00.
    let checked = 0;
    for (const r of routes()) {
      for (const f of r.fields) {
        for (const text of ['a\u0000b', '\u0000', 'summary.nashGap\u0000']) {
          const where = f.in === 'path' ? `/params/${f.name}` : `/querystring/${f.name}`;
          expectNamed(await inject(r.method, urlOf(r, f, text)), where, `${r.method} ${r.path} ${f.name}=${JSON.stringify(text)}`);
          if (f.list) expectNamed(await inject(r.method, urlOf(r, f, text, true)), `${where}/1`, `${r.method} ${r.path} repeated ${f.name}`);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(40);
  });

  it('generated bad text in any query or path parameter of any route: always 400 naming it', async () => {
    const fields = routes().flatMap((r) => r.fields.map((f) => ({ r, f })));
    const arb = fc.record({ at: fc.constantFrom(...fields), text: nulText });
    await fc.assert(fc.asyncProperty(arb, async ({ at: { r, f }, text }) => {
      const where = f.in === 'path' ? `/params/${f.name}` : `/querystring/${f.name}`;
      expectNamed(await inject(r.method, urlOf(r, f, text)), where, `${r.method} ${r.path} ${f.name}=${JSON.stringify(text)}`);
    }), { seed: SEED, numRuns: runs(600), endOnFailure: true });
  });

  it('invalid percent escapes and odd but storable text in any parameter: never a 5xx', async () => {
    const fields = routes().flatMap((r) => r.fields.map((f) => ({ r, f })));
    const arb = fc.record({ at: fc.constantFrom(...fields), v: fc.oneof(oddText.map((t) => ({ raw: false, t })), fc.constantFrom(...ESCAPES).map((t) => ({ raw: true, t }))) });
    await fc.assert(fc.asyncProperty(arb, async ({ at: { r, f }, v }) => {
      let url = urlOf(r, f, v.raw ? 'RAW' : v.t);
      if (v.raw) url = url.replace('RAW', v.t);
      const res = await inject(r.method, url);
      expectNot5xx(res, `${r.method} ${url.slice(0, 200)}`);
      if (v.raw && /%00/.test(v.t)) expect(res.statusCode).toBe(400);
    }), { seed: SEED, numRuns: runs(600), endOnFailure: true });
  });

  it('generated bad text at every string of a submitted spec (values and property names), as JSON and YAML', async () => {
    const places = stringPlaces(RICH());
    expect(places.length).toBeGreaterThan(20);
    const arb = fc.record({ place: fc.constantFrom(...places), text: badText, yaml: fc.boolean() });
    await fc.assert(fc.asyncProperty(arb, async ({ place, text, yaml }) => {
      const { body, expected } = plant(place, text);
      let payload = JSON.stringify(body);
      let contentType = 'application/json';
      if (yaml) {
        const y = toYaml(body);
        // Only when YAML can carry the text (it writes NUL and surrogates as escapes).
        if (JSON.stringify(fromYaml(y)) === payload) { payload = y; contentType = 'application/yaml'; }
      }
      expectNamed(await inject('POST', '/v1/sweeps', { payload, contentType }), expected, `${contentType} ${place.key ? 'key' : 'value'} at ${expected}: ${JSON.stringify(text)}`);
    }), { seed: SEED, numRuns: runs(1500), endOnFailure: true });
  });

  it('YAML escapes: "\\0", "\\ud800" and "\\x00" in a name, a tag and a description', async () => {
    const yamlSpec = (field: string, quoted: string) =>
      `${field === 'name' ? `name: ${quoted}` : 'name: y'}\ntags: [${field === 'tags' ? quoted : 'ok'}]\n${field === 'description' ? `description: ${quoted}\n` : ''}` +
      'base:\n  support: {kind: grid, min: -3, max: 3, n: 61}\n  rewards: [{kind: quadratic, center: -1}, {kind: quadratic, center: 1}]\n  iterations: 20\n';
    for (const [field, path] of [['name', '/name'], ['tags', '/tags/0'], ['description', '/description']]) {
      for (const q of ['"a\\0b"', '"\\ud800"', '"\\x00"', '"\\udc00x"']) {
        expectNamed(await inject('POST', '/v1/sweeps', { payload: yamlSpec(field, q), contentType: 'application/yaml' }), path, `YAML ${field}: ${q}`);
      }
    }
  });

  it('bytes that are not UTF-8 in a JSON or YAML body: 400 with the offset', async () => {
    const good = Buffer.from(JSON.stringify(RICH()));
    const at = good.indexOf('edge sweep') + 4;
    for (const bytes of [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0x80]]) {
      const payload = Buffer.concat([good.subarray(0, at), Buffer.from(bytes), good.subarray(at)]);
      for (const contentType of ['application/json', 'application/yaml']) {
        const res = await inject('POST', '/v1/sweeps', { payload, contentType });
        record(res.statusCode);
        expect(res.statusCode, res.body).toBe(400);
        expect(res.json().message).toBe(`the body is not UTF-8 text: invalid byte 0x${bytes[0].toString(16)} at byte offset ${at}`);
      }
    }
  });

  it('odd but storable text in a spec is stored and read back exactly', async () => {
    const text = '\u0001\ufffe\ufeff\ud83d\ude00\u202e';
    const res = await inject('POST', '/v1/sweeps', { payload: JSON.stringify({ ...RICH(), name: `odd ${text}`, tags: [text], description: text }), contentType: 'application/json' });
    expect(res.statusCode, res.body).toBe(201);
    const got = (await inject('GET', `/v1/sweeps/${res.json().id}`)).json();
    expect(got).toMatchObject({ name: `odd ${text}`, tags: [text], spec: { description: text } });
    await app.inject({ method: 'POST', url: `/v1/sweeps/${res.json().id}/cancel`, headers: auth.headers });
  });

  it('afterwards: nothing malformed was stored, and the service still serves', async () => {
    const { rows } = await env.pool.query('SELECT count(*)::int AS n FROM sweeps');
    expect(rows[0].n).toBe(2);
    expect((await inject('GET', `/v1/sweeps/${sweepId}`)).statusCode).toBe(200);
  });
});

describe('ids in any case', () => {
  const variants = (id: string) => [id.toUpperCase(), id.replace(/[a-f]/g, (c, i) => (i % 2 ? c.toUpperCase() : c))];

  it('a finished sweep read by its upper-case id shows its real counts', async () => {
    const lower = (await inject('GET', `/v1/sweeps/${sweepId}`)).json();
    expect(lower.counts).toMatchObject({ total: 4, succeeded: 4, queued: 0 });
    const upper = await inject('GET', `/v1/sweeps/${sweepId.toUpperCase()}`);
    expect(upper.statusCode).toBe(200);
    expect(upper.json()).toEqual(lower);
  });

  it('every :id route answers an upper- or mixed-case id exactly as the lower-case one', async () => {
    let compared = 0;
    for (const r of routes()) {
      if (!r.fields.some((f) => f.in === 'path' && f.name === 'id') || r.path.startsWith('/v1/runs/')) continue;
      const query = r.path.endsWith('plot.svg') ? '?x=q' : '';
      const lower = await inject(r.method, pathOf(r) + query);
      for (const id of variants(sweepId)) {
        const other = await inject(r.method, pathOf(r, id) + query);
        record(other.statusCode);
        expect(other.statusCode, `${r.method} ${r.path} ${id}: ${other.body.slice(0, 200)}`).toBe(lower.statusCode);
        expect(other.headers['content-type']).toBe(lower.headers['content-type']);
        // Bodies equal but for what changes between two reads (a request id in a message).
        const norm = (b: string) => b.replace(/request id [\w-]+/g, 'request id X');
        expect(norm(other.body), `${r.method} ${r.path}`).toBe(norm(lower.body));
        compared++;
      }
    }
    expect(compared).toBeGreaterThanOrEqual(16);
  });

  it('cancel and retry by an upper-case id act on the sweep', async () => {
    const res = await inject('POST', '/v1/sweeps', { payload: JSON.stringify(spec(3, 3, { name: 'to cancel' })), contentType: 'application/json' });
    const id: string = res.json().id;
    const cancelled = await inject('POST', `/v1/sweeps/${id.toUpperCase()}/cancel`);
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    expect(cancelled.json()).toMatchObject({ id, status: 'cancelled' });
    const retried = await inject('POST', `/v1/sweeps/${id.toUpperCase()}/retry`);
    expect(retried.statusCode, retried.body).toBe(200);
    expect(retried.json().id).toBe(id);
    await inject('POST', `/v1/sweeps/${id}/cancel`);
  });
});
