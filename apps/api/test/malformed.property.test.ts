// Property-based: thousands of generated malformed sweep specifications and request
// bodies POSTed to /v1/sweeps with a valid key. Every answer must be a 4xx (never a 5xx);
// every 400 and 422 carries `issues`, each with a JSON-pointer path ('' or starting with
// '/') and a message; and afterwards the service still answers and accepts a valid sweep.
//
// Reproducible: the seed is fixed (FC_SEED overrides it) and fast-check prints the seed,
// the path and the counterexample on failure; rerun with FC_SEED=<seed> to replay.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { BASE, setup, spec, type Env, type TeamKey } from './helpers.ts';

const SEED = Number(process.env.FC_SEED ?? 20261127);
/** Scales every property's number of runs (FC_RUNS_SCALE=0.1 for a quick pass). */
const SCALE = Number(process.env.FC_RUNS_SCALE ?? 1);
const runs = (n: number) => Math.max(10, Math.round(n * SCALE));

let env: Env;
let app: FastifyInstance;
let auth: TeamKey;
let answered = 0;
const statuses = new Map<number, number>();

beforeAll(async () => {
  env = await setup();
  // No rate limit here: the barrage is thousands of requests from one key in seconds.
  app = await env.app({ rateLimit: false });
  auth = await env.team();
});
afterAll(async () => {
  if (answered) console.log(`malformed inputs: ${answered} requests, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
  await env?.close();
});

// ------------------------------------------------------------------ the check

interface Sent { payload: string; contentType?: string; headers?: Record<string, string> }

/** Posts a raw body and asserts the contract; returns the status. */
async function send(s: Sent): Promise<number> {
  const headers: Record<string, string> = { ...auth.headers, ...s.headers };
  if (s.contentType !== undefined) headers['content-type'] = s.contentType;
  const res = await app.inject({ method: 'POST', url: '/v1/sweeps', payload: s.payload, headers });
  answered++;
  statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
  const show = () => `status ${res.statusCode}, body ${res.body.slice(0, 400)}; sent ${s.contentType ?? '(no content type)'} ${s.payload.slice(0, 300)}`;
  if (res.statusCode < 400 || res.statusCode >= 500) throw new Error(`expected a 4xx: ${show()}`);
  const body = res.json();
  if (body.statusCode !== res.statusCode || typeof body.message !== 'string' || !body.message) throw new Error(`bad error body: ${show()}`);
  if (res.statusCode === 400 || res.statusCode === 422) {
    if (!Array.isArray(body.issues) || body.issues.length === 0) throw new Error(`no issues: ${show()}`);
    for (const issue of body.issues) {
      const okPath = typeof issue.path === 'string' && (issue.path === '' || issue.path.startsWith('/'));
      if (!okPath || typeof issue.message !== 'string' || !issue.message) throw new Error(`bad issue ${JSON.stringify(issue)}: ${show()}`);
    }
  }
  return res.statusCode;
}

const sendJson = (value: unknown, headers?: Record<string, string>) =>
  send({ payload: JSON.stringify(value) ?? 'null', contentType: 'application/json', headers });

const assertProperty = <T>(arb: fc.Arbitrary<T>, check: (v: T) => Promise<unknown>, numRuns: number) =>
  fc.assert(fc.asyncProperty(arb, async (v) => { await check(v); }), { seed: SEED, numRuns, endOnFailure: true });

// ------------------------------------------------------------------ generators

/** A valid spec; every mutation below makes it invalid (no axis overrides a base field mutated below). */
const VALID = () => ({
  ...spec(2, 2),
  axes: [
    { param: 'D', linspace: [1, 2, 2] },
    { param: 'seed', replicates: 2 },
  ],
  derive: { 'rewards.0.center': '[-D/2]', 'rewards.1.center': '[D/2]' },
});

const notString = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string(), fc.integer(), { maxKeys: 3 }));
const notArray = fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.constant(null), fc.dictionary(fc.string(), fc.integer(), { maxKeys: 3 }));
const notObject = fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }));
const notNumber = fc.oneof(
  fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e999', '0x10', ' 1', '', '1,5', 'null', 'true', '½', '٣'),
  fc.string(), fc.boolean(), fc.constant(null), fc.array(fc.double(), { maxLength: 3 }), fc.dictionary(fc.string(), fc.double(), { maxKeys: 2 }),
);
const unknownKey = fc.string({ minLength: 1, maxLength: 20 }).filter((k) => !['name', 'tags', 'description', 'base', 'axes', 'derive', '__proto__'].includes(k));

/** Nested arrays or objects `depth` levels deep. */
const deep = (depth: number, kind: 'array' | 'object', leaf: unknown): unknown => {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = kind === 'array' ? [v] : { a: v };
  return v;
};
const deepValue = fc.tuple(fc.integer({ min: 10, max: 3000 }), fc.constantFrom<'array' | 'object'>('array', 'object'), fc.jsonValue({ maxDepth: 1 }))
  .map(([d, k, leaf]) => deep(d, k, leaf));

/** Numbers no configuration field accepts at these paths (out of range, wrong kind, huge). */
const badConfigValue = fc.oneof<fc.Arbitrary<[string[], unknown]>[]>(
  fc.tuple(fc.constant<string[]>(['q']), fc.oneof(notNumber, fc.constantFrom(0, 1, -1, 2, 1e308, -1e308, 1 + 1e-9))),
  fc.tuple(fc.constant<string[]>(['iterations']), fc.oneof(notNumber, fc.constantFrom(-1, 1.5, 1e12, -1e308, 2 ** 53 + 2))),
  fc.tuple(fc.constant<string[]>(['support', 'n']), fc.oneof(notNumber, fc.constantFrom(0, -5, 2.5, 1e9, 1e300))),
  fc.tuple(fc.constant<string[]>(['support', 'kind']), fc.oneof(fc.string().filter((s) => !['grid', 'points', 'atoms'].includes(s)), notString)),
  fc.tuple(fc.constant<string[]>(['support']), fc.oneof(notObject, deepValue)),
  fc.tuple(fc.constant<string[]>(['rewards']), fc.oneof(notArray, fc.constant([]), deepValue, fc.array(fc.record({ kind: fc.string() }), { minLength: 1, maxLength: 3 }))),
  fc.tuple(fc.constant<string[]>(['rewards', '0', 'kind']), fc.string().filter((s) => !['quadratic', 'gaussian', 'linear', 'table'].includes(s))),
  fc.tuple(fc.constant<string[]>(['beta']), fc.oneof(notNumber, fc.constantFrom(-1, -1e308))),
  fc.tuple(fc.constant<string[]>(['mode']), fc.oneof(fc.string().filter((s) => s !== 'exact' && s !== 'sampled'), notString)),
  fc.tuple(fc.constant<string[]>(['K']), fc.oneof(fc.constantFrom(0, 1, -3, 2.5, 'INF', 'infinity', ''), fc.boolean())),
  fc.tuple(fc.constant<string[]>(['weights']), fc.oneof(notArray, fc.constant([]), fc.constant([0.5, -0.5]), fc.constant([1, 0]))),
  fc.tuple(unknownKey.filter((k) => !['support', 'init', 'rewards', 'weights', 'q', 'K', 'beta', 'realFraction', 'iterations', 'mode', 'samples', 'seed', 'eps', 'tol', 'recordEvery'].includes(k)).map((k) => [k]), fc.jsonValue({ maxDepth: 2 })),
);

const setIn = (obj: Record<string, unknown>, path: string[], value: unknown) => {
  let o = obj as Record<string, unknown>;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string, unknown>;
  o[path[path.length - 1]] = value;
};

const badAxis = fc.oneof(
  fc.constant({ param: 'q', linspace: [0, 1] }),
  fc.constant({ param: 'q', values: [] }),
  fc.constant({ param: 'q' }),
  fc.constant({ param: 'q', values: [0.5], linspace: [0.1, 0.9, 3] }),
  fc.constant({ zip: [] }),
  fc.constant({ zip: [{ param: 'q', values: [0.2, 0.4] }, { param: 'beta', values: [1, 2, 3] }] }),
  fc.constant({ random: { n: 0, seed: 1, params: { q: { uniform: [0.1, 0.9] } } } }),
  fc.constant({ random: { n: 3, seed: 1, params: {} } }),
  fc.constant({ random: { n: 3, seed: 1, params: { q: { uniform: [0.9, 0.1] } } } }),
  fc.constant({ random: { n: 3, seed: 1, params: { q: { loguniform: [-1, 1] } } } }),
  fc.constant({ param: 'seed', replicates: 0 }),
  fc.constant({ param: 'q', logspace: [-1, 1, 3] }),
  fc.constant({ param: 'rewards.9.center', values: [1] }),
  fc.record({ param: fc.string().filter((p) => !/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$/.test(p)), values: fc.constant([1]) }),
  fc.record({ param: fc.constant('q'), linspace: fc.tuple(fc.double(), fc.double(), fc.oneof(fc.constantFrom(0, -1, 1.5, 1e9, 1e300), fc.integer({ max: 0 }))) }),
  fc.record({ param: fc.constant('q'), values: fc.array(notNumber.filter((v) => typeof v !== 'string' && typeof v !== 'boolean'), { minLength: 1, maxLength: 3 }) }),
  fc.record({ param: fc.constant('q'), values: fc.constant([0.5]), extra: fc.jsonValue({ maxDepth: 1 }) }),
  notObject,
  deepValue,
);

/** Expressions that cannot parse or cannot give a valid configuration. */
const badExpr = fc.oneof(
  fc.constantFrom(
    '', ')', '[', 'D/', '(D', 'foo(1)', '__proto__', 'constructor.constructor("return 1")()', 'process.exit(1)',
    'D ** 400 ** 400', '1/0', '[1/0]', 'NaN', '-D/0', 'x'.repeat(20_000), '('.repeat(5000) + 'D' + ')'.repeat(5000),
    '[' + '-D/2,'.repeat(10_000) + ']', 'import("fs")', 'this', 'D; D', '`D`', '"D"', 'D @ 2',
  ),
  fc.string().map((s) => `)${s}`),
  notString,
);

const mutation: fc.Arbitrary<{ what: string; spec: unknown }> = fc.oneof(
  fc.record({ v: notString }).map(({ v }) => ({ what: 'name type', spec: { ...VALID(), name: v } })),
  fc.constantFrom('', 'n'.repeat(201)).map((v) => ({ what: 'name length', spec: { ...VALID(), name: v } })),
  fc.oneof(notArray, fc.array(notString, { minLength: 1, maxLength: 3 }), fc.constant<string[]>([''])).map((v) => ({ what: 'tags', spec: { ...VALID(), tags: v } })),
  notString.map((v) => ({ what: 'description', spec: { ...VALID(), description: v } })),
  notObject.map((v) => ({ what: 'base type', spec: { ...VALID(), base: v } })),
  notArray.map((v) => ({ what: 'axes type', spec: { ...VALID(), axes: v } })),
  fc.oneof(notObject, fc.dictionary(fc.string(), notString, { minKeys: 1, maxKeys: 3 })).map((v) => ({ what: 'derive type', spec: { ...VALID(), derive: v } })),
  fc.tuple(unknownKey, fc.jsonValue({ maxDepth: 2 })).map(([k, v]) => ({ what: 'unknown field', spec: { ...VALID(), [k]: v } })),
  deepValue.map((v) => ({ what: 'deep description', spec: { ...VALID(), description: v } })),
  deepValue.map((v) => ({ what: 'deep tags', spec: { ...VALID(), tags: [v] } })),
  badConfigValue.map(([path, v]) => {
    const s = VALID() as Record<string, unknown>;
    const base = structuredClone(BASE) as Record<string, unknown>;
    setIn(base, path, v);
    // q and weights together are an error too; keep q only where the mutation is not about weights.
    return { what: `base.${path.join('.')}`, spec: { ...s, base } };
  }),
  fc.tuple(badAxis, fc.nat(2)).map(([axis, at]) => {
    const s = VALID();
    const axes: unknown[] = [...s.axes];
    axes.splice(at, 0, axis);
    return { what: 'axis', spec: { ...s, axes } };
  }),
  fc.tuple(badExpr, fc.constantFrom('rewards.0.center', 'q', 'iterations', 'support.n')).map(([e, target]) => ({
    what: 'derive expression', spec: { ...VALID(), derive: { ...VALID().derive, [target]: e } },
  })),
  fc.string({ minLength: 1 }).filter((k) => !/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$/.test(k) || !['support', 'init', 'rewards', 'weights', 'q', 'K', 'beta', 'realFraction', 'iterations', 'mode', 'samples', 'seed', 'eps', 'tol', 'recordEvery'].includes(k.split('.')[0]))
    .map((k) => ({ what: 'derive target', spec: { ...VALID(), derive: { [k]: '1' } } })),
);

/** Bodies that are not a JSON or YAML object, or not sent as one. */
const rawBody: fc.Arbitrary<Sent> = fc.oneof(
  // Invalid JSON (or valid JSON of the wrong shape; both must be 4xx).
  fc.string({ maxLength: 200 }).map((s) => ({ payload: `{${s}`, contentType: 'application/json' })),
  fc.string({ maxLength: 200 }).map((s) => ({ payload: s, contentType: 'application/json' })),
  fc.constantFrom('{"name": "x",', '{"a":1}}', '[1,2', '{"name":"x","base":{"q":1e999}}', '\u0000', '\uFEFF{}', '{"name":"\\ud800"}', 'nul', '{"__proto__": {"x": 1}}')
    .map((p) => ({ payload: p, contentType: 'application/json' })),
  fc.integer({ min: 100, max: 5000 }).map((n) => ({ payload: '['.repeat(n) + ']'.repeat(n), contentType: 'application/json' })),
  fc.integer({ min: 100, max: 5000 }).map((n) => ({ payload: '{"a":'.repeat(n) + '1' + '}'.repeat(n), contentType: 'application/json; charset=utf-8' })),
  // Invalid YAML, and YAML that is not a mapping.
  fc.tuple(fc.string({ maxLength: 200 }), fc.constantFrom('application/yaml', 'text/yaml', 'application/x-yaml'))
    .map(([s, t]) => ({ payload: s, contentType: t })),
  fc.constantFrom(
    'name: [unclosed\nbase: {}\n', 'a: 1\na: 2\n', '- 1\n- 2\n', '!!binary aGVsbG8=', '%YAML 9.9\n---\na: 1',
    'name: x\nbase: &b {q: 0.5}\naxes: *nope\n', '\t- tab', 'name: "x\n', ': :', '{{{{', 'name: !!js/function "function(){}"',
    `a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n`,
  ).map((p) => ({ payload: p, contentType: 'application/yaml' })),
  fc.integer({ min: 100, max: 3000 }).map((n) => ({ payload: '['.repeat(n) + ']'.repeat(n), contentType: 'application/yaml' })),
  // Wrong content types (a valid spec in them, so only the type is wrong).
  fc.oneof(
    fc.constantFrom('text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'application/octet-stream', 'image/png', 'application/jsonx', 'json', '*/*', 'application/json-patch+json'),
    fc.string({ maxLength: 40 }).filter((t) => !/^\s*(application\/json|application\/yaml|text\/yaml|application\/x-yaml)\b/i.test(t)),
  ).map((t) => ({ payload: JSON.stringify(VALID()), contentType: t })),
  // No body, or a bad Idempotency-Key.
  fc.constant({ payload: '' }),
  fc.constantFrom('', 'k'.repeat(256)).map((k) => ({ payload: JSON.stringify({ name: 1 }), contentType: 'application/json', headers: { 'idempotency-key': k } })),
);

// ------------------------------------------------------------------ properties

describe('malformed submissions never cause a 5xx', () => {
  it('the valid spec the mutations start from is accepted', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/sweeps', payload: VALID(), headers: auth.headers });
    expect(res.statusCode, res.body).toBe(201);
  });

  it('arbitrary JSON values', async () => {
    await assertProperty(fc.jsonValue({ maxDepth: 6 }), (v) => sendJson(v), runs(2000));
  });

  it('arbitrary objects with the top-level field names', async () => {
    const fieldish = fc.record(
      { name: fc.jsonValue({ maxDepth: 2 }), tags: fc.jsonValue({ maxDepth: 2 }), base: fc.jsonValue({ maxDepth: 3 }), axes: fc.jsonValue({ maxDepth: 3 }), derive: fc.jsonValue({ maxDepth: 2 }) },
      { requiredKeys: [] },
    );
    await assertProperty(fieldish, (v) => sendJson(v), runs(1000));
  });

  it('mutations of a valid spec: wrong types, NaN-like strings, huge and negative numbers, unknown fields, deep nesting, bad axes, bad derive, invalid base', async () => {
    await assertProperty(mutation, ({ spec: s }) => sendJson(s), runs(4000));
  });

  it('raw bodies: invalid JSON, invalid YAML, wrong content types, bad headers', async () => {
    await assertProperty(rawBody, (s) => send(s), runs(1500));
  });

  it('still serves afterwards: health, readiness and a valid submission', async () => {
    expect((await app.inject({ method: 'GET', url: '/v1/health', headers: auth.headers })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/v1/ready' })).statusCode).toBe(200);
    const res = await app.inject({ method: 'POST', url: '/v1/sweeps', payload: spec(2, 2, { name: 'after the barrage' }), headers: auth.headers });
    expect(res.statusCode, res.body).toBe(201);
    const got = await app.inject({ method: 'GET', url: `/v1/sweeps/${res.json().id}`, headers: auth.headers });
    expect(got.json()).toMatchObject({ name: 'after the barrage', counts: { total: 4 } });
    // Nothing malformed was stored: only the two valid sweeps exist.
    const { rows } = await env.pool.query('SELECT count(*)::int AS n FROM sweeps');
    expect(rows[0].n).toBe(2);
  });
});
