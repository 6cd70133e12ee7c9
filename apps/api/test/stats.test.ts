// GET /v1/sweeps/:id/stats and GET /v1/stats?tag=: aggregates computed in Postgres,
// checked against the same numbers computed here from the summaries we inserted.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { encodeTrajectory, parseWhere, StatsQueryError } from '@curation/db';
import { setup, type Env, type TeamKey } from './helpers.ts';

// ---------------------------------------------------------------- synthetic sweep

const QS = [0.1, 0.3, 0.5];
const DS = [1, 2, 4];
const SEEDS = 4;
const NOISE = [-0.02, 0.01, 0.03, -0.005];

interface Fixture { index: number; params: { q: number; D: number; seed: number }; status: string; summary: any | null; runId?: string }

function summaryFor(q: number, D: number, seed: number) {
  let share0 = q + (0.5 - q) * Math.exp(-D) + NOISE[seed];
  if (q === 0.1 && D === 4 && seed === 0) share0 = 0.005; // one collapse
  const shares = [share0, 1 - share0];
  const converged = seed !== 3;
  const mass = [shares[0] * 0.9, shares[1] * 0.9];
  return {
    converged,
    convergedAt: converged ? 10 + 5 * seed + D : null,
    final: { t: 100, entropy: 1 + D / 10 + seed / 100, effectiveSupport: Math.exp(1 + D / 10), mass, outside: 0.1, meanReward: [-0.1 * D, -0.2], varReward: [0.01, 0.02 * seed], step: 1e-7 * (seed + 1) },
    basinShare: shares,
    nashGap: Math.abs(share0 - q),
    collapsed: Math.max(...shares) >= 0.99,
    survivingBasins: mass.filter((x) => x >= 0.01).length,
    audit: { disjoint: true, initMass: [0.5, 0.5], crossGap: [D, D], leakage: [Math.exp(-D), Math.exp(-D)], inWindow: D >= 2, interval: [q - 0.05, q + 0.05], inInterval: D >= 2 && Math.abs(share0 - q) <= 0.05 },
  };
}

function specOf(name: string, tags: string[]) {
  return {
    name, tags,
    base: { support: { kind: 'grid', min: -6, max: 6, n: 121 }, rewards: [{ kind: 'quadratic', center: 0 }, { kind: 'quadratic', center: 0 }], iterations: 100 },
    axes: [{ param: 'q', values: QS }, { param: 'D', values: DS }, { param: 'seed', replicates: SEEDS }],
    derive: { 'rewards.0.center': '[-D/2]', 'rewards.1.center': '[D/2]' },
  };
}

/** Inserts a sweep of q x D x seed runs; `statusOf(index)` picks non-succeeded runs. */
async function insertSweep(pool: pg.Pool, o: { name: string; tags: string[]; statusOf?: (i: number) => string; createdAt?: string }) {
  const id = randomUUID();
  const fixtures: Fixture[] = [];
  let index = 0;
  for (const q of QS) for (const D of DS) for (let seed = 0; seed < SEEDS; seed++) {
    const status = o.statusOf?.(index) ?? 'succeeded';
    fixtures.push({ index, params: { q, D, seed }, status, summary: status === 'succeeded' ? summaryFor(q, D, seed) : null });
    index++;
  }
  await pool.query(
    `INSERT INTO sweeps (id, name, tags, spec, total, status, enqueued, core_version, created_at)
     VALUES ($1, $2, $3, $4, $5, 'succeeded', $5, 'test', coalesce($6::timestamptz, now()))`,
    [id, o.name, o.tags, JSON.stringify(specOf(o.name, o.tags)), fixtures.length, o.createdAt ?? null],
  );
  const traj = encodeTrajectory([
    { t: 0, entropy: 2, effectiveSupport: Math.exp(2), mass: [0.5, 0.5], outside: 0, meanReward: [0, 0], varReward: [1, 1], step: null, shareStep: null },
  ]);
  for (const f of fixtures) {
    let resultId: string | null = null;
    if (f.summary) {
      const s = f.summary;
      const r = await pool.query(
        `INSERT INTO results (config_hash, core_version, git_revision, config, summary, trajectory, converged, converged_at,
                              collapsed, nash_gap, basin_share0, surviving_basins, in_interval, final_entropy, duration_ms)
         VALUES ($1, 'test', 'test', '{}', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1) RETURNING id`,
        [`${id}:${f.index}`, JSON.stringify(s), traj, s.converged, s.convergedAt, s.collapsed, s.nashGap, s.basinShare[0],
          s.survivingBasins, s.audit.inInterval, s.final.entropy],
      );
      resultId = r.rows[0].id;
    }
    const run = await pool.query(
      `INSERT INTO runs (sweep_id, index, params, status, result_id, error) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id::text`,
      [id, f.index, JSON.stringify(f.params), f.status, resultId, f.status === 'failed' ? 'boom' : null],
    );
    f.runId = run.rows[0].id;
  }
  return { id, fixtures };
}

// ---------------------------------------------------------------- independent statistics

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const sd = (v: number[]) => (v.length < 2 ? null : Math.sqrt(v.reduce((a, x) => a + (x - mean(v)) ** 2, 0) / (v.length - 1)));
function pct(v: number[], p: number) {
  const s = [...v].sort((a, b) => a - b);
  const pos = p * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (pos - lo) * (s[hi] - s[lo]);
}
const rate = (v: boolean[]) => v.filter(Boolean).length / v.length;

function expectClose(actual: number | null, expected: number | null) {
  if (expected === null) expect(actual).toBeNull();
  else expect(actual).toBeCloseTo(expected, 10);
}

function checkMetric(actual: any, values: number[]) {
  expect(actual.count).toBe(values.length);
  expectClose(actual.mean, mean(values));
  expectClose(actual.std, sd(values));
  expectClose(actual.min, Math.min(...values));
  expectClose(actual.p10, pct(values, 0.1));
  expectClose(actual.median, pct(values, 0.5));
  expectClose(actual.p90, pct(values, 0.9));
  expectClose(actual.max, Math.max(...values));
}

// ---------------------------------------------------------------- set-up

let env: Env;
let pool: pg.Pool;
let app: FastifyInstance;
/** Sweeps inserted here have no team (as before teams): only an admin key sees them. */
let admin: TeamKey;
let main: Awaited<ReturnType<typeof insertSweep>>;
const FAILED = new Set([5, 17]);

beforeAll(async () => {
  // The real application (buildApp), on a fresh database and queue prefix.
  env = await setup();
  pool = env.pool;
  main = await insertSweep(pool, { name: 'main', tags: ['team-a'], statusOf: (i) => (FAILED.has(i) ? 'failed' : i === 30 ? 'queued' : 'succeeded') });
  admin = await env.team({ admin: true });
  app = await env.app();
});

afterAll(async () => {
  await env?.close();
});

const get = (url: string) => app.inject({ method: 'GET', url, headers: admin.headers });
const succeeded = () => main.fixtures.filter((f) => f.status === 'succeeded');

// ---------------------------------------------------------------- tests

describe('GET /v1/sweeps/:id/stats', () => {
  it('groups by two variables: every statistic matches an independent computation', async () => {
    const res = await get(`/v1/sweeps/${main.id}/stats?groupBy=q,D&metrics=summary.basinShare.0,summary.nashGap,summary.final.mass.1`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.groupBy).toEqual(['q', 'D']);
    expect(body.variables).toEqual(['q', 'D', 'seed']);
    expect(body.groups).toHaveLength(QS.length * DS.length);
    // ordered by the group values, numerically
    expect(body.groups.map((g: any) => [g.key.q, g.key.D])).toEqual(QS.flatMap((q) => DS.map((D) => [q, D])));
    for (const g of body.groups) {
      const runs = succeeded().filter((f) => f.params.q === g.key.q && f.params.D === g.key.D);
      expect(g.n).toBe(runs.length);
      checkMetric(g.metrics['summary.basinShare.0'], runs.map((f) => f.summary.basinShare[0]));
      checkMetric(g.metrics['summary.nashGap'], runs.map((f) => f.summary.nashGap));
      checkMetric(g.metrics['summary.final.mass.1'], runs.map((f) => f.summary.final.mass[1]));
      expectClose(g.collapsedRate, rate(runs.map((f) => f.summary.collapsed)));
      expectClose(g.convergedRate, rate(runs.map((f) => f.summary.converged)));
      expectClose(g.inIntervalRate, rate(runs.map((f) => f.summary.audit.inInterval)));
      const at = runs.map((f) => f.summary.convergedAt).filter((x): x is number => x !== null);
      expectClose(g.meanConvergedAt, at.length ? mean(at) : null);
      expect(g.runId).toBeNull();
      // the group's first stored run: what the dashboard shows for it
      expect(g.firstRunId).toBe(runs.map((f) => BigInt(f.runId!)).reduce((a, b) => (b < a ? b : a)).toString());
    }
    // the failed (5, 17) and queued (30) runs are left out
    const g01 = body.groups.find((g: any) => g.key.q === 0.1 && g.key.D === 2);
    expect(g01.n).toBe(3);
  });

  it('groups by one variable, with jsonb-path and boolean metrics', async () => {
    const res = await get(`/v1/sweeps/${main.id}/stats?groupBy=D&metrics=summary.final.entropy,summary.audit.leakage.0,summary.collapsed,summary.convergedAt`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.groups.map((g: any) => g.key)).toEqual(DS.map((D) => ({ D })));
    for (const g of body.groups) {
      const runs = succeeded().filter((f) => f.params.D === g.key.D);
      checkMetric(g.metrics['summary.final.entropy'], runs.map((f) => f.summary.final.entropy));
      checkMetric(g.metrics['summary.audit.leakage.0'], runs.map((f) => f.summary.audit.leakage[0]));
      checkMetric(g.metrics['summary.collapsed'], runs.map((f) => (f.summary.collapsed ? 1 : 0)));
      checkMetric(g.metrics['summary.convergedAt'], runs.map((f) => f.summary.convergedAt).filter((x) => x !== null));
    }
  });

  it('groups by every variable (one run per group links to it) and by none', async () => {
    const all = (await get(`/v1/sweeps/${main.id}/stats?groupBy=q,D,seed&metrics=summary.nashGap`)).json();
    expect(all.groups).toHaveLength(succeeded().length);
    for (const g of all.groups) {
      const f = main.fixtures.find((x) => x.params.q === g.key.q && x.params.D === g.key.D && x.params.seed === g.key.seed)!;
      expect(g.n).toBe(1);
      expect(g.runId).toBe(f.runId);
      expect(g.firstRunId).toBe(f.runId);
      expect(g.metrics['summary.nashGap'].std).toBeNull();
    }
    const none = (await get(`/v1/sweeps/${main.id}/stats`)).json();
    expect(none.metrics).toEqual(['summary.basinShare.0', 'summary.nashGap']);
    expect(none.groups).toHaveLength(1);
    expect(none.groups[0].key).toEqual({});
    checkMetric(none.groups[0].metrics['summary.basinShare.0'], succeeded().map((f) => f.summary.basinShare[0]));
  });

  it('filters with where on axis variables and summary fields (also repeated where params)', async () => {
    const url = `/v1/sweeps/${main.id}/stats?groupBy=q&metrics=summary.basinShare.0&where=${encodeURIComponent('q>=0.3;D!=2')}&where=${encodeURIComponent('summary.converged=true')}`;
    const res = await get(url);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.where).toEqual([
      { field: 'q', op: '>=', value: 0.3 }, { field: 'D', op: '!=', value: 2 }, { field: 'summary.converged', op: '=', value: true },
    ]);
    expect(body.groups.map((g: any) => g.key.q)).toEqual([0.3, 0.5]);
    for (const g of body.groups) {
      const runs = succeeded().filter((f) => f.params.q === g.key.q && f.params.D !== 2 && f.summary.converged);
      checkMetric(g.metrics['summary.basinShare.0'], runs.map((f) => f.summary.basinShare[0]));
    }

    const nash = (await get(`/v1/sweeps/${main.id}/stats?groupBy=D&metrics=summary.nashGap&where=${encodeURIComponent('summary.nashGap<0.05;summary.final.step>1.5e-7')}`)).json();
    for (const g of nash.groups) {
      const runs = succeeded().filter((f) => f.params.D === g.key.D && f.summary.nashGap < 0.05 && f.summary.final.step > 1.5e-7);
      checkMetric(g.metrics['summary.nashGap'], runs.map((f) => f.summary.nashGap));
    }

    // the issue's own spelling, unencoded
    const raw = (await get(`/v1/sweeps/${main.id}/stats?groupBy=q,D&where=q>=0.3;summary.collapsed=false;D!=2`)).json();
    expect(raw.where).toEqual([
      { field: 'q', op: '>=', value: 0.3 }, { field: 'summary.collapsed', op: '=', value: false }, { field: 'D', op: '!=', value: 2 },
    ]);
    expect(raw.groups.map((g: any) => [g.key.q, g.key.D])).toEqual([[0.3, 1], [0.3, 4], [0.5, 1], [0.5, 4]]);

    const collapsed = (await get(`/v1/sweeps/${main.id}/stats?where=summary.collapsed=true`)).json();
    expect(collapsed.groups[0].n).toBe(1);
    expect(collapsed.groups[0].collapsedRate).toBe(1);

    const empty = (await get(`/v1/sweeps/${main.id}/stats?groupBy=q&where=q>5`)).json();
    expect(empty.groups).toEqual([]);
  });

  it('refuses unknown groupBy variables, metrics and malformed where clauses with 400 naming the problem', async () => {
    const cases: [string, RegExp][] = [
      ['groupBy=q,beta', /unknown groupBy variable "beta".*q, D, seed/],
      ['metrics=summary.basinShare.x', /unknown metric "summary.basinShare.x"/],
      ['metrics=nashGap', /unknown metric "nashGap"/],
      ['metrics=summary.final.mass', /unknown metric "summary.final.mass"/],
      ['where=q>>1', /malformed where clause "q>>1"/],
      ['where=q%3D0.1%3Bfoo', /malformed where clause "foo"/],
      ['where=zeta%3D1', /unknown field "zeta".*zeta=1/],
      ['where=summary.collapsed%3E1', /summary.collapsed/],
      ['where=summary.nashGap%3Dabc', /summary.nashGap is a number/],
      ['where=q%3C%3Dnull', /null only works with = and !=/],
    ];
    for (const [query, message] of cases) {
      const res = await get(`/v1/sweeps/${main.id}/stats?${query}`);
      expect(res.statusCode, query).toBe(400);
      expect(res.json()).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(res.json().message, query).toMatch(message);
    }
  });

  it('answers 404 for an unknown sweep and for a malformed id', async () => {
    for (const id of [randomUUID(), 'not-a-uuid', '1']) {
      const res = await get(`/v1/sweeps/${id}/stats?groupBy=q`);
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ statusCode: 404, error: 'Not Found', message: expect.stringContaining(id) });
    }
  });
});

describe('parseWhere', () => {
  it('reads numbers, booleans, null, quoted and bare strings, and every operator', () => {
    expect(parseWhere('a=1;b!=-2.5e-3; c < 3 ;d<=4;e>5;f>=6;g=true;h=false;i=null;j="x;y";k=abc;l<>1;m==2;')).toEqual([
      { field: 'a', op: '=', value: 1 }, { field: 'b', op: '!=', value: -0.0025 }, { field: 'c', op: '<', value: 3 },
      { field: 'd', op: '<=', value: 4 }, { field: 'e', op: '>', value: 5 }, { field: 'f', op: '>=', value: 6 },
      { field: 'g', op: '=', value: true }, { field: 'h', op: '=', value: false }, { field: 'i', op: '=', value: null },
      { field: 'j', op: '=', value: 'x;y' }, { field: 'k', op: '=', value: 'abc' }, { field: 'l', op: '!=', value: 1 },
      { field: 'm', op: '=', value: 2 },
    ]);
    expect(parseWhere(['q=1', 'summary.basinShare.0>0.5'])).toHaveLength(2);
    expect(parseWhere(undefined)).toEqual([]);
    expect(() => parseWhere('q=')).toThrow(StatsQueryError);
    expect(() => parseWhere('=1')).toThrow(/malformed where clause "=1"/);
    expect(() => parseWhere('q=a b')).toThrow(/cannot read value/);
  });
});

describe('GET /v1/stats?tag=', () => {
  it('compares the sweeps sharing a tag, oldest first', async () => {
    const old = await insertSweep(pool, {
      name: 'older', tags: ['team-b', 'history'], createdAt: '2020-01-01T00:00:00Z', statusOf: (i) => (i < 6 ? 'failed' : 'succeeded'),
    });
    const newer = await insertSweep(pool, { name: 'newer', tags: ['history'], createdAt: '2021-01-01T00:00:00Z' });
    const res = await get('/v1/stats?tag=history&metrics=summary.basinShare.0');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.tag).toBe('history');
    expect(body.sweeps.map((s: any) => s.id)).toEqual([old.id, newer.id]);
    for (const [row, sweep] of [[body.sweeps[0], old], [body.sweeps[1], newer]] as const) {
      const ok = sweep.fixtures.filter((f) => f.status === 'succeeded');
      expect(row).toMatchObject({ total: 36, succeeded: ok.length, failed: 36 - ok.length, status: 'succeeded' });
      expectClose(row.collapsedRate, rate(ok.map((f) => f.summary.collapsed)));
      expectClose(row.convergedRate, rate(ok.map((f) => f.summary.converged)));
      expectClose(row.inIntervalRate, rate(ok.map((f) => f.summary.audit.inInterval)));
      expectClose(row.meanNashGap, mean(ok.map((f) => f.summary.nashGap)));
      expectClose(row.meanConvergedAt, mean(ok.map((f) => f.summary.convergedAt).filter((x) => x !== null)));
      expectClose(row.metrics['summary.basinShare.0'].mean, mean(ok.map((f) => f.summary.basinShare[0])));
      expectClose(row.metrics['summary.basinShare.0'].std, sd(ok.map((f) => f.summary.basinShare[0])));
    }
    expect(body.sweeps[0].createdAt).toBe('2020-01-01T00:00:00.000Z');
    expect(body.sweeps[0].name).toBe('older');

    expect((await get('/v1/stats?tag=nobody')).json()).toEqual({ tag: 'nobody', sweeps: [] });
    expect((await get('/v1/stats')).statusCode).toBe(400);
    const bad = await get('/v1/stats?tag=history&metrics=summary.nope');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/unknown metric "summary.nope"/);
  });
});
