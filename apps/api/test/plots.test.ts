// GET /v1/sweeps/:id/plot.svg (heatmap, line plot) and GET /v1/runs/:id/plot.svg (trajectory).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import type { MetricsRow } from '@curation/core';
import { encodeTrajectory } from '@curation/db';
import { setup, type Env, type TeamKey } from './helpers.ts';

// ---------------------------------------------------------------- synthetic sweeps

const QS = [0.1, 0.3, 0.5];
const DS = [1, 2, 4, 8];
const share = (q: number, D: number, seed: number) => q + (0.5 - q) * Math.exp(-D) + [0, 0.02, -0.01][seed];

const trajectoryOf = (q: number): MetricsRow[] => [0, 10, 20, 30].map((t) => ({
  t, entropy: 3 - t / 20, effectiveSupport: Math.exp(3 - t / 20), mass: [q + t / 100, 1 - q - t / 100 - 0.05], outside: 0.05,
  meanReward: [-1, -1], varReward: [0.1, 0.1], step: t === 0 ? null : 0.1 / t, shareStep: t === 0 ? null : 0.05 / t,
}));

interface Run { index: number; q: number; D: number; seed: number; status: string; runId: string; share0: number | null }

async function insertSweep(pool: pg.Pool, seeds: number, name: string) {
  const id = randomUUID();
  const spec = {
    name, base: { rewards: [{ kind: 'quadratic', center: 0 }, { kind: 'quadratic', center: 0 }] },
    axes: [{ param: 'q', values: QS }, { param: 'D', values: DS }, { param: 'seed', replicates: seeds }],
    derive: { 'rewards.0.center': '[-D/2]', 'rewards.1.center': '[D/2]' },
  };
  await pool.query(
    `INSERT INTO sweeps (id, name, tags, spec, total, status, enqueued, core_version) VALUES ($1, $2, '{}', $3, $4, 'running', $4, 'test')`,
    [id, name, JSON.stringify(spec), QS.length * DS.length * seeds],
  );
  const runs: Run[] = [];
  let index = 0;
  for (const q of QS) for (const D of DS) for (let seed = 0; seed < seeds; seed++) {
    const status = index === 1 ? 'queued' : 'succeeded';
    let resultId: string | null = null;
    const s0 = status === 'succeeded' ? share(q, D, seed) : null;
    if (s0 !== null) {
      const summary = {
        converged: true, convergedAt: 10, final: trajectoryOf(q)[3], basinShare: [s0, 1 - s0], nashGap: Math.abs(s0 - q),
        collapsed: false, survivingBasins: 2, audit: null,
      };
      const r = await pool.query(
        `INSERT INTO results (config_hash, core_version, git_revision, config, summary, trajectory, converged, converged_at,
                              collapsed, nash_gap, basin_share0, surviving_basins, in_interval, final_entropy, duration_ms)
         VALUES ($1, 'test', 'test', '{}', $2, $3, true, 10, false, $4, $5, 2, NULL, $6, 1) RETURNING id`,
        [`${id}:${index}`, JSON.stringify(summary), encodeTrajectory(trajectoryOf(q)), summary.nashGap, s0, summary.final.entropy],
      );
      resultId = r.rows[0].id;
    }
    const run = await pool.query(
      'INSERT INTO runs (sweep_id, index, params, status, result_id) VALUES ($1, $2, $3, $4, $5) RETURNING id::text',
      [id, index, JSON.stringify({ q, D, seed }), status, resultId],
    );
    runs.push({ index, q, D, seed, status, runId: run.rows[0].id, share0: s0 });
    index++;
  }
  return { id, runs };
}

// ---------------------------------------------------------------- helpers

/** Well-formed-ish: one <svg> root, every tag closed in order, attributes quoted. */
function expectWellFormed(svg: string) {
  expect(svg.startsWith('<svg')).toBe(true);
  expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  const stack: string[] = [];
  const body = svg.replace(/<!--[\s\S]*?-->/g, '');
  const re = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"]*")*)\s*(\/?)>/g;
  let consumed = 0;
  for (let m = re.exec(body); m; m = re.exec(body)) {
    expect(body.slice(consumed, m.index)).not.toMatch(/[<>]/);
    consumed = m.index + m[0].length;
    if (m[1]) expect(stack.pop()).toBe(m[2]);
    else if (!m[4]) stack.push(m[2]);
  }
  expect(stack).toEqual([]);
  expect(body.slice(consumed).trim()).toBe('');
}

const cellsOf = (svg: string) =>
  [...svg.matchAll(/<rect class="cell"([^>]*)>/g)].map((m) => {
    const attr = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(m[1])?.[1];
    return { x: Number(attr('data-x')), y: Number(attr('data-y')), value: attr('data-value'), count: Number(attr('data-count')), runId: attr('data-run-id'), firstRunId: attr('data-first-run-id') };
  });

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const sd = (v: number[]) => Math.sqrt(v.reduce((a, x) => a + (x - mean(v)) ** 2, 0) / (v.length - 1));

// ---------------------------------------------------------------- set-up

let env: Env;
let pool: pg.Pool;
let app: FastifyInstance;
/** Sweeps inserted here have no team (as before teams): only an admin key sees them. */
let admin: TeamKey;
let seeded: Awaited<ReturnType<typeof insertSweep>>;
let single: Awaited<ReturnType<typeof insertSweep>>;

beforeAll(async () => {
  // The real application (buildApp), on a fresh database and queue prefix.
  env = await setup();
  pool = env.pool;
  seeded = await insertSweep(pool, 3, 'three seeds');
  single = await insertSweep(pool, 1, 'one seed');
  admin = await env.team({ admin: true });
  app = await env.app();
});

afterAll(async () => {
  await env?.close();
});

const get = (url: string) => app.inject({ method: 'GET', url, headers: admin.headers });
const ok = (runs: Run[], q: number, D: number) => runs.filter((r) => r.q === q && r.D === D && r.share0 !== null).map((r) => r.share0!);

describe('GET /v1/sweeps/:id/plot.svg with x and y: a heatmap', () => {
  it('has one cell per (x, y) with the mean over seeds, a colour scale, axis labels and a title naming the aggregate', async () => {
    const res = await get(`/v1/sweeps/${seeded.id}/plot.svg?x=q&y=D&z=summary.basinShare.0`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/svg+xml; charset=utf-8');
    const svg = res.body;
    expectWellFormed(svg);
    const cells = cellsOf(svg);
    expect(cells).toHaveLength(QS.length * DS.length);
    for (const c of cells) {
      const values = ok(seeded.runs, c.x, c.y);
      expect(c.count).toBe(values.length);
      expect(Number(c.value)).toBeCloseTo(mean(values), 12);
      expect(c.runId).toBeUndefined();
      // several seeds: no link, but the first stored run to show on a click
      const ids = seeded.runs.filter((r) => r.q === c.x && r.D === c.y && r.status === 'succeeded').map((r) => BigInt(r.runId));
      expect(c.firstRunId).toBe(ids.reduce((a, b) => (b < a ? b : a)).toString());
    }
    expect(cells.find((c) => c.x === 0.1 && c.y === 1)!.count).toBe(2); // index 1 is still queued
    expect(svg).toContain('class="colorbar"');
    // the label says which reward, then the one name; the title says which contract and core computed the cells
    expect(svg).toMatch(/<title>mean of basin share \(reward 1\) \[summary\.basinShare\.0\] over seeds \([^)]*\): [^<]*; contract 1, core test</);
    expect(svg).toMatch(/class="axis-label"[^>]*>q</);
    expect(svg).toMatch(/class="axis-label"[^>]*>D</);
    expect(svg).not.toContain('<a ');
  });

  it('uses the aggregate asked for (median, std, count, max) and filters with where', async () => {
    for (const [agg, f] of [
      ['median', (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]],
      ['std', sd],
      ['count', (v: number[]) => v.length],
      ['max', (v: number[]) => Math.max(...v)],
    ] as const) {
      const res = await get(`/v1/sweeps/${seeded.id}/plot.svg?x=q&y=D&agg=${agg}&where=${encodeURIComponent('q!=0.1')}`);
      expect(res.statusCode, agg).toBe(200);
      expect(res.body).toContain(`<title>${agg === 'std' ? 'standard deviation' : agg === 'max' ? 'maximum' : agg === 'count' ? 'number of runs with' : 'median'}`);
      const cells = cellsOf(res.body);
      expect(cells).toHaveLength((QS.length - 1) * DS.length);
      for (const c of cells) expect(Number(c.value)).toBeCloseTo(f(ok(seeded.runs, c.x, c.y)), 12);
    }
  });

  it('links a cell holding exactly one run to the dashboard opened on that run (no key needed to follow it)', async () => {
    const res = await get(`/v1/sweeps/${single.id}/plot.svg?x=D&y=q&z=summary.nashGap`);
    expect(res.statusCode).toBe(200);
    expectWellFormed(res.body);
    const cells = cellsOf(res.body);
    expect(cells).toHaveLength(QS.length * DS.length - 1); // index 1 queued: no cell
    for (const c of cells) {
      const run = single.runs.find((r) => r.D === c.x && r.q === c.y)!;
      expect(c.runId).toBe(run.runId);
      expect(c.count).toBe(1);
      expect(res.body).toContain(`<a href="/sweeps/${single.id}#run=${run.runId}"`);
    }
  });
});

describe('a heatmap of more values per axis than the plot can show', () => {
  it('merges adjacent values into bins, at most 200 per axis, and says so in the title', async () => {
    const id = randomUUID();
    const QN = 250;
    const spec = { name: 'wide', base: { rewards: [{ kind: 'quadratic', center: 0 }, { kind: 'quadratic', center: 0 }] },
      axes: [{ param: 'q', linspace: [0, 1, QN] }, { param: 'D', values: [1, 2] }] };
    await pool.query(`INSERT INTO sweeps (id, name, tags, spec, total, status, enqueued, core_version) VALUES ($1, 'wide', '{}', $2, $3, 'succeeded', $3, 'test')`,
      [id, JSON.stringify(spec), QN * 2]);
    // share0 = index / 1000: each bin of two q values holds indexes 4k, 4k + 2 (D = 1) and 4k + 1, 4k + 3 (D = 2).
    await pool.query(
      `WITH res AS (
         INSERT INTO results (config_hash, core_version, git_revision, config, summary, trajectory, converged, converged_at, collapsed, nash_gap, basin_share0, surviving_basins, in_interval, final_entropy, duration_ms)
         SELECT $1::text || ':' || g, 'test', 'test', '{}', jsonb_build_object('basinShare', jsonb_build_array(g / 1000.0, 1 - g / 1000.0), 'nashGap', 0),
                $4::bytea, true, 10, false, 0, g / 1000.0, 2, NULL, 1, 1 FROM generate_series(0, $2::int - 1) g RETURNING id, config_hash)
       INSERT INTO runs (sweep_id, index, params, status, result_id)
       SELECT $1::uuid, i, jsonb_build_object('q', (i / 2) / ($3::float8 - 1), 'D', 1 + i % 2), 'succeeded', id
         FROM (SELECT id, split_part(config_hash, ':', 2)::int AS i FROM res) r`,
      [id, QN * 2, QN, encodeTrajectory(trajectoryOf(0.5))],
    );
    const res = await get(`/v1/sweeps/${id}/plot.svg?x=q&y=D`);
    expect(res.statusCode).toBe(200);
    expectWellFormed(res.body);
    expect(res.body).toContain('2 x 1 values of 250 x 2 per cell');
    const cells = [...res.body.matchAll(/<rect class="cell"([^>]*)\/?>/g)].map((m) => Object.fromEntries([...m[1].matchAll(/([\w-]+)="([^"]*)"/g)].map((a) => [a[1], a[2]])));
    expect(cells).toHaveLength(125 * 2);
    const first = cells.find((c) => c['data-x'].startsWith('0..') && c['data-y'] === '1')!;
    expect(Number(first['data-value'])).toBeCloseTo((0 + 0.002) / 2, 12);
    expect(first['data-count']).toBe('2');
    expect(first['data-run-id']).toBeUndefined();
    expect(first['data-first-run-id']).toMatch(/^\d+$/);
  });
});

describe('GET /v1/sweeps/:id/plot.svg with only x: a line plot', () => {
  it('plots the mean over seeds with +- sd error bars', async () => {
    const res = await get(`/v1/sweeps/${seeded.id}/plot.svg?x=D&z=summary.basinShare.0&where=q=0.3`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/svg+xml; charset=utf-8');
    expectWellFormed(res.body);
    expect(res.body.match(/class="series"/g)).toHaveLength(1);
    expect(res.body).toContain('class="error-bar"');
    expect(res.body).toMatch(/<title>mean of basin share \(reward 1\) \[summary\.basinShare\.0\] over seeds, error bars \+- sd/);
  });

  it('plots other aggregates: the median with p10..p90 bars, the maximum without bars', async () => {
    const median = await get(`/v1/sweeps/${seeded.id}/plot.svg?x=D&agg=median&where=q=0.5`);
    expect(median.statusCode).toBe(200);
    expectWellFormed(median.body);
    expect(median.body).toMatch(/<title>median of basin share \(reward 1\) \[summary\.basinShare\.0\] over seeds, error bars p10 to p90/);
    expect(median.body).toContain('class="error-bar"');
    const max = await get(`/v1/sweeps/${seeded.id}/plot.svg?x=D&agg=max&logY=1`);
    expect(max.statusCode).toBe(200);
    expect(max.body).toMatch(/<title>maximum of basin share \(reward 1\) \[summary\.basinShare\.0\] over seeds: three seeds; contract 1, core test</);
    expect(max.body).not.toContain('class="error-bar"');
  });

  it('draws one line per value of series', async () => {
    const res = await get(`/v1/sweeps/${seeded.id}/plot.svg?x=D&series=q`);
    expect(res.statusCode).toBe(200);
    expectWellFormed(res.body);
    expect(res.body.match(/class="series"/g)).toHaveLength(QS.length);
    for (const q of QS) expect(res.body).toContain(`data-series="q = ${q}"`);
  });
});

describe('sweep plot errors', () => {
  it('answers 400 for bad variables, metrics, aggregates and combinations, 404 for unknown sweeps', async () => {
    const cases: [string, RegExp][] = [
      ['x=beta&y=D', /^x: unknown variable "beta"/],
      ['x=q&y=D&z=summary.nope', /^z: unknown metric "summary.nope"/],
      ['x=q&y=q', /two different variables/],
      ['x=q&y=D&series=seed', /series is for line plots/],
      ['x=q&y=D&agg=mode', /agg/],
      ['y=D', /x/],
      ['x=q&where=q%3E%3E1', /malformed where clause/],
    ];
    for (const [query, message] of cases) {
      const res = await get(`/v1/sweeps/${seeded.id}/plot.svg?${query}`);
      expect(res.statusCode, query).toBe(400);
      expect(res.json().message, query).toMatch(message);
    }
    for (const id of [randomUUID(), 'zzz']) {
      const res = await get(`/v1/sweeps/${id}/plot.svg?x=q&y=D`);
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ statusCode: 404, error: 'Not Found' });
    }
  });
});

describe('GET /v1/runs/:id/plot.svg', () => {
  it('plots the trajectory of one run: masses, entropy, step on a log axis', async () => {
    const run = seeded.runs.find((r) => r.q === 0.3 && r.D === 2 && r.seed === 1)!;
    const res = await get(`/v1/runs/${run.runId}/plot.svg`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/svg+xml; charset=utf-8');
    expectWellFormed(res.body);
    expect(res.body).toContain(`<title>run ${run.runId} (three seeds, index ${run.index}: q = 0.3, D = 2, seed = 1); contract 1, core test</title>`);
    expect(res.body).toMatch(/log scale/);
    expect(res.body).toContain('data-series="basin (reward 1)"');
    expect(res.body).toContain('data-series="entropy"');
    expect(res.body).toContain('data-series="step"');
  });

  it('answers 404 for unknown or malformed ids and for runs without a trajectory', async () => {
    const queued = seeded.runs.find((r) => r.status === 'queued')!;
    for (const id of ['999999', 'abc', '-1', '99999999999999999999', queued.runId]) {
      const res = await get(`/v1/runs/${id}/plot.svg`);
      expect(res.statusCode, id).toBe(404);
      expect(res.json()).toMatchObject({ statusCode: 404, error: 'Not Found' });
    }
  });
});
