// Issue 13, item 1: names of Object.prototype and Function.prototype (constructor,
// __proto__, toString, valueOf, hasOwnProperty, __defineGetter__, caller, ...) typed into
// any parameter of the stats, export and plot routes are names like any other: a 4xx
// naming the parameter, or a 200 where the name is genuinely valid (a sweep here has an
// axis literally called valueOf), never a 500 and never an answer for a field that does
// not exist. Every name is tried in every slot, bare and under every prefix; then
// fast-check mixes them with valid names in lists and filters.
//
// Reproducible: the seed is fixed (FC_SEED overrides it). FC_RUNS_SCALE=0.1 (the fast
// tier) tries a tenth of the slot x prefix x name combinations, on diagonals, so every
// name, prefix and slot still comes up, and a tenth of the fast-check runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { setup, type Env, type TeamKey } from './helpers.ts';
import { insertMixedSweep } from './contract-fixtures.ts';

const SEED = Number(process.env.FC_SEED ?? 20261207);
const SCALE = Number(process.env.FC_RUNS_SCALE ?? 1);
const STRIDE = Math.max(1, Math.round(1 / SCALE));

const NAMES = [...new Set([
  ...Object.getOwnPropertyNames(Object.prototype),
  ...Object.getOwnPropertyNames(Function.prototype),
  '__proto__',
])].sort();
const PREFIXES = ['', 'summary.', 'summary.audit.', 'summary.final.', 'summary.audit.nash.', 'summary.basinShare.', 'params.'];
/** The sweep's axis variables: valueOf is one, so `valueOf` and `params.valueOf` are genuine. */
const VARIABLES = ['q', 'D', 'valueOf'];

let env: Env;
let app: FastifyInstance;
let admin: TeamKey;
let sweepId: string;
let requests = 0;
const statuses = new Map<number, number>();

beforeAll(async () => {
  env = await setup();
  app = await env.app({ rateLimit: false });
  admin = await env.team({ admin: true });
  const sweep = await insertMixedSweep(env.pool, {
    name: 'prototype names', tags: ['proto'], axes: [['q', [0.1, 0.3]], ['D', [1, 2]], ['valueOf', [1, 2]]], coreOf: () => '2.0.0',
  });
  sweepId = sweep.id;
});
afterAll(async () => {
  if (requests) console.log(`prototype names: ${requests} requests, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
  await env?.close();
});

const isVariable = (name: string) => VARIABLES.includes(name) || (name.startsWith('params.') && VARIABLES.includes(name.slice(7)));

interface Slot {
  /** The request parameter that carries the name (what a 400 must name). */
  param: string;
  url: (name: string) => string;
  /** Whether the name is genuinely valid in this slot. */
  valid: (name: string) => boolean;
}

const enc = encodeURIComponent;
const stats = (qs: string) => `/v1/sweeps/${sweepId}/stats?${qs}`;
const plot = (qs: string) => `/v1/sweeps/${sweepId}/plot.svg?${qs}`;
const never = () => false;

const slots = (): Slot[] => [
  { param: 'metrics', url: (n) => stats(`metrics=${enc(n)}`), valid: never },
  { param: 'metrics', url: (n) => stats(`metrics=summary.nashGap,${enc(n)}`), valid: never },
  { param: 'groupBy', url: (n) => stats(`groupBy=${enc(n)}`), valid: isVariable },
  { param: 'where', url: (n) => stats(`where=${enc(`${n}=1`)}`), valid: isVariable },
  { param: 'where', url: (n) => stats(`where=${enc(`q>0;${n}!=true`)}`), valid: isVariable },
  { param: 'metrics', url: (n) => `/v1/stats?tag=proto&metrics=${enc(n)}`, valid: never },
  // a tag is a value, not a name: any string is a valid tag (no sweep carries these)
  { param: 'tag', url: (n) => `/v1/stats?tag=${enc(n)}`, valid: () => true },
  { param: 'status', url: (n) => `/v1/sweeps/${sweepId}/runs.csv?status=${enc(n)}`, valid: never },
  { param: 'status', url: (n) => `/v1/sweeps/${sweepId}/runs.ndjson?status=${enc(n)}`, valid: never },
  { param: 'trajectory', url: (n) => `/v1/sweeps/${sweepId}/runs.ndjson?trajectory=${enc(n)}`, valid: never },
  { param: 'x', url: (n) => plot(`x=${enc(n)}&y=D`), valid: isVariable },
  { param: 'x', url: (n) => plot(`x=${enc(n)}`), valid: isVariable },
  { param: 'y', url: (n) => plot(`x=q&y=${enc(n)}`), valid: isVariable },
  { param: 'z', url: (n) => plot(`x=q&y=D&z=${enc(n)}`), valid: never },
  { param: 'series', url: (n) => plot(`x=q&series=${enc(n)}`), valid: isVariable },
  { param: 'where', url: (n) => plot(`x=q&y=D&where=${enc(`${n}<2`)}`), valid: isVariable },
  { param: 'agg', url: (n) => plot(`x=q&y=D&agg=${enc(n)}`), valid: never },
];

/** One request: a 200 exactly when valid, else a 4xx that names the parameter; never a 5xx. */
async function check(slot: Slot, name: string): Promise<void> {
  const url = slot.url(name);
  const res = await app.inject({ method: 'GET', url, headers: admin.headers });
  requests++;
  statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
  const show = `${url} -> ${res.statusCode} ${res.body.slice(0, 300)}`;
  expect(res.statusCode, show).toBeLessThan(500);
  expect(res.body, show).not.toMatch(/native code|\[object Object\]/);
  if (slot.valid(name)) {
    expect(res.statusCode, show).toBe(200);
    return;
  }
  expect(res.statusCode, show).toBe(400);
  const body = res.json();
  // the parameter is named, in the message and as the issue's path
  // Plain string checks, not a RegExp per case: thousands of one-off regular expressions
  // in one process have crashed Node 20's regexp compiler (out of memory) now and then.
  const message = String(body.message);
  expect(message.startsWith(`${slot.param}: `) || message.includes(`/querystring/${slot.param}`), `${show}: ${message}`).toBe(true);
  expect(body.issues?.map((i: { path: string }) => i.path), show).toContain(`/querystring/${slot.param}`);
}

describe('prototype property names in stats, export and plot parameters', () => {
  it('every own and inherited name of Object.prototype and Function.prototype, in every slot, under every prefix', async () => {
    expect(NAMES).toEqual(expect.arrayContaining(['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', '__defineGetter__', 'caller', 'apply']));
    for (const [i, slot] of slots().entries()) {
      for (const [j, prefix] of PREFIXES.entries()) {
        for (const [k, n] of NAMES.entries()) if ((i + j + k) % STRIDE === 0) await check(slot, prefix + n);
      }
    }
  }, 300_000);

  it('the named examples of the issue', async () => {
    for (const [url, param] of [
      [stats('metrics=summary.constructor'), 'metrics'],
      [stats('metrics=summary.__proto__'), 'metrics'],
      [stats('metrics=summary.audit.constructor'), 'metrics'],
      [stats(`where=${enc('summary.toString=1')}`), 'where'],
      [`/v1/stats?tag=proto&metrics=summary.hasOwnProperty`, 'metrics'],
      [plot('x=q&y=D&z=summary.isPrototypeOf'), 'z'],
      [plot('x=__defineGetter__&y=D'), 'x'],
    ] as const) {
      const res = await app.inject({ method: 'GET', url, headers: admin.headers });
      expect(res.statusCode, url).toBe(400);
      expect(String(res.json().message).startsWith(`${param}: unknown`), `${url}: ${res.json().message}`).toBe(true);
    }
    // the genuine axis called valueOf groups and plots like any other
    const ok = await app.inject({ method: 'GET', url: stats('groupBy=valueOf&metrics=summary.nashGap'), headers: admin.headers });
    expect(ok.json().groups.map((g: { key: Record<string, unknown> }) => g.key.valueOf)).toEqual([1, 2]);
  });

  it('mixed with valid names in lists and filters (fast-check)', async () => {
    const bad = fc.tuple(fc.constantFrom(...PREFIXES.filter((p) => p !== 'params.')), fc.constantFrom(...NAMES))
      .map(([p, n]) => p + n)
      .filter((n) => !isVariable(n));
    const goodMetric = fc.constantFrom('summary.nashGap', 'summary.basinShare.0', 'summary.audit.applies', 'summary.final.outside');
    const op = fc.constantFrom('=', '!=', '<', '<=', '>', '>=');
    await fc.assert(
      fc.asyncProperty(
        fc.array(goodMetric, { maxLength: 3 }), bad, fc.array(goodMetric, { maxLength: 3 }), op, fc.constantFrom('stats', 'tag', 'where', 'plot'),
        async (before, name, after, o, where) => {
          const list = [...before, name, ...after].join(',');
          const slot: Slot =
            where === 'stats' ? { param: 'metrics', url: () => stats(`groupBy=q&metrics=${enc(list)}`), valid: never }
              : where === 'tag' ? { param: 'metrics', url: () => `/v1/stats?tag=proto&metrics=${enc(list)}`, valid: never }
                : where === 'where' ? { param: 'where', url: () => stats(`where=${enc(`q>0;${name}${o}1;D=2`)}`), valid: never }
                  : { param: 'z', url: () => plot(`x=q&y=D&z=${enc(name)}&where=${enc('q>0')}`), valid: never };
          await check(slot, name);
        },
      ),
      { seed: SEED, numRuns: Math.max(10, Math.round(300 * SCALE)) },
    );
  }, 300_000);
});
