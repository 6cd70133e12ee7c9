// The size of a submitted specification is bounded after parsing, not only as a body:
// YAML aliases cannot amplify a small body into a huge stored spec, YAML with more items
// than the yaml library parses quickly is refused before parsing, and every refusal is a
// 413 with the numbers. Times to refuse are printed (not asserted: the machine is shared).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { setup, spec, type Env, type TeamKey } from './helpers.ts';

let env: Env;
let app: FastifyInstance;
let auth: TeamKey;

beforeAll(async () => {
  env = await setup();
  app = await env.app({ rateLimit: false });
  auth = await env.team();
});
afterAll(async () => { await env?.close(); });

const HEAD = [
  'name: bomb',
  'base:',
  '  support: {kind: grid, min: -3, max: 3, n: 61}',
  '  rewards: [{kind: quadratic, center: -1}, {kind: quadratic, center: 1}]',
  '  iterations: 20',
];

/** The issue's attack: one list of `n` numbers under an anchor, reused by `aliases` aliases. */
function aliasBomb(n: number, aliases: number, where: 'base' | 'axis' = 'base'): string {
  const list = `[${new Array(n).fill(0).map((_, i) => i % 10).join(',')}]`;
  if (where === 'axis') {
    return [...HEAD, `  pad: &a ${list}`, 'axes:', ...Array.from({ length: aliases }, (_, i) => `  - {param: v${i}, values: *a}`)].join('\n') + '\n';
  }
  return [...HEAD, `  x0: &a ${list}`, ...Array.from({ length: aliases }, (_, i) => `  x${i + 1}: *a`)].join('\n') + '\n';
}

async function post(payload: string, contentType: string) {
  const t0 = performance.now();
  const res = await app.inject({ method: 'POST', url: '/v1/sweeps', payload, headers: { ...auth.headers, 'content-type': contentType } });
  return { res, ms: performance.now() - t0 };
}

describe('spec size after parsing', () => {
  it("the issue's attack (403 KB, a 200,000-element list and 99 aliases) is a 413 with the numbers, before the YAML is parsed", async () => {
    const body = aliasBomb(200_000, 99);
    expect(body.length).toBeGreaterThan(400_000);
    const { res, ms } = await post(body, 'application/yaml');
    expect(res.statusCode, res.body).toBe(413);
    expect(res.json()).toMatchObject({
      statusCode: 413, limit: 'maxYamlItems', max: 20_000, found: 200_110,
      issues: [{ path: '', message: expect.stringMatching(/^the YAML text has 200110 items \(commas and line breaks\), more than the limit of 20000 for YAML/) }],
    });
    console.log(`alias bomb (${body.length} bytes of YAML): 413 in ${ms.toFixed(0)} ms`);
  });

  it('aliases that multiply a list past the expanded bound: 413 naming the value where the count passed it', async () => {
    // 11,000 numbers x 99 aliases = 1.09 million values from 22 KB of YAML.
    const body = aliasBomb(11_000, 99, 'axis');
    const { res, ms } = await post(body, 'application/yaml');
    expect(res.statusCode, res.body).toBe(413);
    expect(res.json()).toMatchObject({ limit: 'maxNodes', max: 1_000_000, found: 1_000_001 });
    expect(res.json().issues[0].path).toMatch(/^\/axes\/\d+\/values\/\d+$/);
    console.log(`alias amplification (${body.length} bytes -> over 1,000,000 values): 413 in ${ms.toFixed(0)} ms`);
  });

  it('more than 100 alias uses, or nested aliases that multiply: 413 with the count', async () => {
    const many = aliasBomb(3, 101, 'axis');
    const { res } = await post(many, 'application/yaml');
    expect(res.statusCode, res.body).toBe(413);
    expect(res.json()).toMatchObject({ limit: 'maxYamlAliases', max: 100, found: 101, message: expect.stringMatching(/uses aliases 101 times, more than the limit of 100$/) });
    const nested = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(', ')}]`)].join('\n');
    const second = await post(nested, 'application/yaml');
    expect(second.res.statusCode, second.res.body).toBe(413);
    expect(second.res.json()).toMatchObject({ limit: 'maxYamlAliases', max: 100, found: 72 });
  });

  it('a JSON list longer than the per-list bound: 413 at that list; nothing stored', async () => {
    const big = { ...spec(1, 1), axes: [{ param: 'q', values: new Array(100_001).fill(0.5) }] };
    const { res, ms } = await post(JSON.stringify(big), 'application/json');
    expect(res.statusCode, res.body).toBe(413);
    expect(res.json()).toMatchObject({
      limit: 'maxListLength', max: 100_000, found: 100_001,
      issues: [{ path: '/axes/0/values', message: 'a list of 100001 elements, more than the limit of 100000 per list' }],
    });
    console.log(`JSON list of 100,001 values: 413 in ${ms.toFixed(0)} ms`);
    const { rows } = await env.pool.query('SELECT count(*)::int AS n FROM sweeps');
    expect(rows[0].n).toBe(0);
  });

  it('the limits are settings (MAX_SPEC_*): a smaller bound refuses what the default accepts', async () => {
    const body = aliasBomb(50, 30, 'axis').replace(/values: \*a/g, 'values: [0.5]');
    const small = await env.app({ rateLimit: false, limits: { maxConfigs: 100_000, maxCostSeconds: 300, specSize: { maxBytes: 1 << 20, maxNodes: 1000, maxListLength: 40, maxYamlItems: 1000 } } });
    const res = await small.inject({ method: 'POST', url: '/v1/sweeps', payload: body, headers: { ...auth.headers, 'content-type': 'application/yaml' } });
    expect(res.statusCode, res.body).toBe(413);
    expect(res.json()).toMatchObject({ limit: 'maxListLength', max: 40, found: 50, issues: [{ path: '/base/pad' }] });
  });

  it('a YAML spec with aliases within the bounds is accepted and stored expanded', async () => {
    const body = [
      'name: aliases ok',
      'base:',
      '  support: {kind: grid, min: -3, max: 3, n: 61}',
      '  rewards: [{kind: quadratic, center: -1}, &r {kind: quadratic, center: 1}]',
      '  iterations: 20',
      'axes:',
      '  - {param: q, values: &qs [0.2, 0.5]}',
      '  - {param: beta, values: *qs}',
    ].join('\n');
    const { res } = await post(body, 'application/yaml');
    expect(res.statusCode, res.body).toBe(201);
    const got = (await app.inject({ method: 'GET', url: `/v1/sweeps/${res.json().id}`, headers: auth.headers })).json();
    expect(got.counts.total).toBe(4);
    expect(got.spec.axes[1]).toEqual({ param: 'beta', values: [0.2, 0.5] });
    await app.inject({ method: 'POST', url: `/v1/sweeps/${res.json().id}/cancel`, headers: auth.headers });
  });
});
