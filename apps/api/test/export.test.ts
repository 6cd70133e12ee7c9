// GET /v1/sweeps/:id/runs.csv and runs.ndjson: one row per run, streamed in keyset chunks.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import type { MetricsRow } from '@curation/core';
import { encodeTrajectory, exportRuns } from '@curation/db';
import { setup, type Env, type TeamKey } from './helpers.ts';

// ---------------------------------------------------------------- RFC 4180 parser

function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
      if (c === '"') { quoted = false; i++; continue; }
      field += c; i++; continue;
    }
    if (c === '"' && field === '') { quoted = true; i++; continue; }
    if (c === ',') { row.push(field); field = ''; i++; continue; }
    if (c === '\r' && text[i + 1] === '\n') { row.push(field); rows.push(row); row = []; field = ''; i += 2; continue; }
    if (c === '\n') { row.push(field); rows.push(row); row = []; field = ''; i++; continue; }
    if (c === '"') throw new Error(`stray quote at ${i}`);
    field += c; i++;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  return rows;
}

// ---------------------------------------------------------------- synthetic sweep

const QS = [0.2, 0.6];
const DS = [1, 3];
const SEEDS = 3;
const NASTY_ERROR = 'core threw: "bad, value"\nat line 2, col "3"';

const trajectoryOf = (q: number, D: number): MetricsRow[] => [0, 10, 20].map((t) => ({
  t, entropy: 2 - t / 100, effectiveSupport: Math.exp(2 - t / 100), mass: [q * (1 + t / 100), 1 / 3 + D / 1000],
  outside: 0.1, meanReward: [-1 / 3, -D / 7], varReward: [0.1, 0.2], step: t === 0 ? null : 1 / (t + 7),
  shareStep: null, // as in a contract 1 result
}));

function summaryFor(q: number, D: number, seed: number) {
  const share0 = q + 1 / (7 * D) + seed / 1e3 + 1e-17 * seed;
  return {
    converged: seed !== 2,
    convergedAt: seed !== 2 ? 10 * D + seed : null,
    final: { ...trajectoryOf(q, D)[2] },
    basinShare: [share0, 1 - share0],
    nashGap: Math.abs(share0 - q),
    collapsed: false,
    survivingBasins: 2,
    audit: { disjoint: true, initMass: [0.5, 0.5], crossGap: [D / 3, D / 3], leakage: [Math.exp(-D / 3), 0.1], inWindow: true, interval: [q - 0.1, q + 0.1], inInterval: seed === 0 },
  };
}

interface Fixture { index: number; params: Record<string, number>; status: string; summary: any; error: string | null; runId?: string; traj?: MetricsRow[] }

async function insertSmallSweep(pool: pg.Pool) {
  const id = randomUUID();
  const spec = {
    name: 'export test, "quoted"', tags: ['x'],
    base: { support: { kind: 'grid', min: -3, max: 3, n: 61 }, rewards: [{ kind: 'quadratic', center: 0 }, { kind: 'quadratic', center: 0 }] },
    axes: [{ param: 'q', values: QS }, { param: 'D', values: DS }, { param: 'seed', replicates: SEEDS }],
    derive: { 'rewards.0.center': '[-D/2]', 'rewards.1.center': '[D/2]' },
  };
  await pool.query(
    `INSERT INTO sweeps (id, name, tags, spec, total, status, enqueued, core_version) VALUES ($1, $2, $3, $4, $5, 'failed', $5, 'test')`,
    [id, spec.name, spec.tags, JSON.stringify(spec), QS.length * DS.length * SEEDS],
  );
  const fixtures: Fixture[] = [];
  let index = 0;
  for (const q of QS) for (const D of DS) for (let seed = 0; seed < SEEDS; seed++) {
    const status = index === 4 ? 'failed' : index === 7 ? 'queued' : 'succeeded';
    const f: Fixture = { index, params: { q, D, seed }, status, summary: null, error: status === 'failed' ? NASTY_ERROR : null };
    let resultId: string | null = null;
    if (status === 'succeeded') {
      f.summary = summaryFor(q, D, seed);
      f.traj = trajectoryOf(q, D);
      const s = f.summary;
      const r = await pool.query(
        `INSERT INTO results (config_hash, core_version, git_revision, config, summary, trajectory, converged, converged_at,
                              collapsed, nash_gap, basin_share0, surviving_basins, in_interval, final_entropy, duration_ms)
         VALUES ($1, 'test', 'test', '{}', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1) RETURNING id`,
        [`${id}:${index}`, JSON.stringify(s), encodeTrajectory(f.traj), s.converged, s.convergedAt, s.collapsed, s.nashGap,
          s.basinShare[0], s.survivingBasins, s.audit.inInterval, s.final.entropy],
      );
      resultId = r.rows[0].id;
    }
    const run = await pool.query(
      'INSERT INTO runs (sweep_id, index, params, status, result_id, error) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id::text',
      [id, index, JSON.stringify(f.params), status, resultId, f.error],
    );
    f.runId = run.rows[0].id;
    fixtures.push(f);
    index++;
  }
  return { id, fixtures };
}

/** n runs in SQL (two-reward summaries, every 1000th failed), for the streaming test. */
async function insertLargeSweep(pool: pg.Pool, n: number) {
  const id = randomUUID();
  const spec = { name: 'large', base: { rewards: [{}, {}] }, axes: [{ param: 'q', linspace: [0, 1, n / 100] }, { param: 'seed', replicates: 100 }] };
  await pool.query(
    `INSERT INTO sweeps (id, name, tags, spec, total, status, enqueued, core_version) VALUES ($1, 'large', '{}', $2, $3, 'failed', $3, 'test')`,
    [id, JSON.stringify(spec), n],
  );
  await pool.query(
    `WITH res AS (
       INSERT INTO results (config_hash, core_version, git_revision, config, summary, trajectory, converged, converged_at,
                            collapsed, nash_gap, basin_share0, surviving_basins, in_interval, final_entropy, duration_ms)
       SELECT $1::text || ':' || g, 'test', 'test', '{}',
              jsonb_build_object('converged', true, 'convergedAt', g % 50, 'collapsed', false, 'nashGap', 0.01,
                'basinShare', jsonb_build_array(g / $2::float8, 1 - g / $2::float8), 'survivingBasins', 2,
                'final', jsonb_build_object('t', 100, 'entropy', 1.5, 'effectiveSupport', 4.48, 'outside', 0,
                  'mass', jsonb_build_array(0.5, 0.5), 'meanReward', jsonb_build_array(-1, -1),
                  'varReward', jsonb_build_array(0, 0), 'step', 1e-9),
                'audit', NULL),
              '\\x00', true, g % 50, false, 0.01, g / $2::float8, 2, NULL, 1.5, 1
         FROM generate_series(0, $2 - 1) g WHERE g % 1000 <> 999
       RETURNING id, config_hash)
     INSERT INTO runs (sweep_id, index, params, status, result_id)
     SELECT $1::uuid, split_part(config_hash, ':', 2)::int,
            jsonb_build_object('q', (split_part(config_hash, ':', 2)::int / 100) / ($2 / 100 - 1)::float8, 'seed', split_part(config_hash, ':', 2)::int % 100),
            'succeeded', id FROM res`,
    [id, n],
  );
  await pool.query(
    `INSERT INTO runs (sweep_id, index, params, status, error)
     SELECT $1, g, jsonb_build_object('q', (g / 100) / ($2 / 100 - 1)::float8, 'seed', g % 100), 'failed', 'x,y'
       FROM generate_series(0, $2 - 1) g WHERE g % 1000 = 999`,
    [id, n],
  );
  return id;
}

// ---------------------------------------------------------------- set-up

let env: Env;
let pool: pg.Pool;
let app: FastifyInstance;
/** Sweeps inserted here have no team (as before teams): only an admin key sees them. */
let admin: TeamKey;
let small: Awaited<ReturnType<typeof insertSmallSweep>>;

beforeAll(async () => {
  // The real application (buildApp), on a fresh database and queue prefix.
  env = await setup();
  pool = env.pool;
  small = await insertSmallSweep(pool);
  admin = await env.team({ admin: true });
  app = await env.app();
});

afterAll(async () => {
  await env?.close();
});

const get = (url: string) => app.inject({ method: 'GET', url, headers: admin.headers });

// Summary columns carry the field's one name: the same string as the stats metric and the plot value.
const pair = (name: string) => [`${name}.0`, `${name}.1`];
const EXPECTED_HEADER = [
  'index', 'run_id', 'status', 'contract', 'core_version', 'q', 'D', 'seed',
  ...[
    'converged', 'convergedAt', 'collapsed', 'survivingBasins', 'nashGap', 'outsideDecayRate', ...pair('basinShare'),
    'final.t', 'final.entropy', 'final.effectiveSupport', 'final.outside', 'final.step', 'final.shareStep',
    ...pair('final.mass'), ...pair('final.meanReward'), ...pair('final.varReward'),
    'audit.disjoint', ...pair('audit.initMass'), ...pair('audit.crossGap'), ...pair('audit.gapsExceed2eps'), 'audit.outsideGap',
    ...pair('audit.leakage'), 'audit.inWindow', ...pair('audit.interval'), ...pair('audit.intervalB5'), ...pair('audit.intervalCorrected'),
    'audit.outsideDomination', 'audit.largeK', 'audit.applies', 'audit.inInterval', 'audit.inIntervalB5', 'audit.inIntervalCorrected',
    ...pair('audit.varianceBound'), ...pair('audit.varianceSlack'), 'audit.nash.premise', ...pair('audit.nash.gains'),
    'audit.nash.utilities.0.0', 'audit.nash.utilities.0.1', 'audit.nash.utilities.1.0', 'audit.nash.utilities.1.1',
  ].map((n) => `summary.${n}`),
  'error',
];

describe('GET /v1/sweeps/:id/runs.csv', () => {
  it('has the documented header, one row per run, exact numbers, booleans, empty nulls and quoted errors', async () => {
    const res = await get(`/v1/sweeps/${small.id}/runs.csv`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toBe(`attachment; filename="export-test-quoted-${small.id.slice(0, 8)}-runs.csv"`);
    expect(res.body.endsWith('\r\n')).toBe(true);
    const rows = parseCsv(res.body);
    const [header, ...data] = rows;
    expect(header).toEqual(EXPECTED_HEADER);
    expect(new Set(header).size).toBe(header.length);
    expect(data).toHaveLength(small.fixtures.length);
    const col = (name: string) => header.indexOf(name);
    for (const [i, row] of data.entries()) {
      const f = small.fixtures[i];
      expect(row).toHaveLength(header.length);
      expect(row[col('index')]).toBe(String(f.index));
      expect(row[col('run_id')]).toBe(f.runId);
      expect(row[col('status')]).toBe(f.status);
      // hand-made rows of core version "test" count as contract 1
      expect(row[col('contract')]).toBe(f.status === 'succeeded' ? '1' : '');
      expect(row[col('core_version')]).toBe(f.status === 'succeeded' ? 'test' : '');
      expect(Number(row[col('q')])).toBe(f.params.q);
      expect(Number(row[col('D')])).toBe(f.params.D);
      expect(Number(row[col('seed')])).toBe(f.params.seed);
      if (f.status === 'succeeded') {
        const s = f.summary;
        // full precision: the text parses back to the very same double
        expect(Number(row[col('summary.basinShare.0')])).toBe(s.basinShare[0]);
        expect(Number(row[col('summary.basinShare.1')])).toBe(s.basinShare[1]);
        expect(Number(row[col('summary.nashGap')])).toBe(s.nashGap);
        expect(Number(row[col('summary.final.mass.0')])).toBe(s.final.mass[0]);
        expect(Number(row[col('summary.final.meanReward.0')])).toBe(s.final.meanReward[0]);
        expect(Number(row[col('summary.final.step')])).toBe(s.final.step);
        expect(Number(row[col('summary.audit.leakage.0')])).toBe(s.audit.leakage[0]);
        expect(Number(row[col('summary.audit.interval.1')])).toBe(s.audit.interval[1]);
        expect(row[col('summary.converged')]).toBe(String(s.converged));
        expect(row[col('summary.audit.inInterval')]).toBe(String(s.audit.inInterval));
        expect(row[col('summary.convergedAt')]).toBe(s.convergedAt === null ? '' : String(s.convergedAt));
        expect(row[col('error')]).toBe('');
      } else {
        for (const name of ['converged', 'basinShare.0', 'final.t', 'audit.inInterval']) expect(row[col(`summary.${name}`)]).toBe('');
        expect(row[col('error')]).toBe(f.error ?? '');
      }
    }
    // the failed run's error holds commas, quotes and a line break: quoted, quotes doubled
    expect(data[4][col('error')]).toBe(NASTY_ERROR);
    expect(res.body).toContain('"core threw: ""bad, value""\nat line 2, col ""3"""');
  });

  it('filters by status', async () => {
    const rows = parseCsv((await get(`/v1/sweeps/${small.id}/runs.csv?status=failed`)).body);
    expect(rows).toHaveLength(2);
    expect(rows[1][0]).toBe('4');
    const none = parseCsv((await get(`/v1/sweeps/${small.id}/runs.csv?status=cancelled`)).body);
    expect(none).toEqual([EXPECTED_HEADER]);
  });

  it('refuses trajectories, bad statuses, unknown sweeps', async () => {
    const t = await get(`/v1/sweeps/${small.id}/runs.csv?trajectory=1`);
    expect(t.statusCode).toBe(400);
    expect(t.json().message).toMatch(/NDJSON/);
    expect((await get(`/v1/sweeps/${small.id}/runs.csv?status=done`)).statusCode).toBe(400);
    for (const id of [randomUUID(), 'nope']) {
      for (const ext of ['csv', 'ndjson']) {
        const res = await get(`/v1/sweeps/${id}/runs.${ext}`);
        expect(res.statusCode).toBe(404);
        expect(res.json()).toMatchObject({ statusCode: 404, error: 'Not Found' });
      }
    }
  });
});

describe('GET /v1/sweeps/:id/runs.ndjson', () => {
  it('gives one JSON object per run, without trajectories unless asked', async () => {
    const res = await get(`/v1/sweeps/${small.id}/runs.ndjson`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    expect(res.headers['content-disposition']).toMatch(/attachment; filename=".*-runs\.ndjson"/);
    const lines = res.body.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(small.fixtures.length);
    for (const [i, line] of lines.entries()) {
      const f = small.fixtures[i];
      const ok = f.status === 'succeeded';
      expect(line).toEqual({
        index: f.index, runId: f.runId, status: f.status, params: f.params, summary: f.summary,
        contract: ok ? 1 : null, coreVersion: ok ? 'test' : null, error: f.error,
      });
    }
  });

  it('adds decoded trajectories with ?trajectory=1', async () => {
    const res = await get(`/v1/sweeps/${small.id}/runs.ndjson?trajectory=1`);
    expect(res.statusCode).toBe(200);
    const lines = res.body.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(small.fixtures.length);
    for (const [i, line] of lines.entries()) {
      const f = small.fixtures[i];
      // shareStep null in every row (a contract 1 result), read back as null
      expect(line.trajectory).toEqual(f.traj ? f.traj.map((r) => ({ ...r, shareStep: null })) : null);
    }
    expect(lines[0].trajectory[0].step).toBeNull();
    const ok = (await get(`/v1/sweeps/${small.id}/runs.ndjson?status=succeeded&trajectory=true`)).body.trimEnd().split('\n');
    expect(ok).toHaveLength(small.fixtures.filter((f) => f.status === 'succeeded').length);
  });
});

describe('a large export', () => {
  const N = 20_000;
  let id: string;
  beforeAll(async () => { id = await insertLargeSweep(pool, N); });

  it('reads the runs in keyset chunks of at most 2,000 rows', async () => {
    const limits: number[] = [];
    const counting = {
      query: (text: string, values: unknown[]) => {
        limits.push(values[3] as number);
        return pool.query(text, values);
      },
    } as unknown as pg.Pool;
    let n = 0;
    let last = -1;
    for await (const run of exportRuns(counting, id)) {
      expect(run.index).toBe(last + 1);
      last = run.index;
      n++;
    }
    expect(n).toBe(N);
    expect(limits).toHaveLength(N / 2000 + 1);
    expect(limits.every((l) => l === 2000)).toBe(true);
  });

  it('streams 20,000 CSV rows over HTTP (chunked, no content-length) in index order', async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    const { headers, body, chunks } = await new Promise<{ headers: http.IncomingHttpHeaders; body: string; chunks: number }>((resolve, reject) => {
      http.get(`http://127.0.0.1:${port}/v1/sweeps/${id}/runs.csv`, { headers: admin.headers }, (res) => {
        let text = '';
        let count = 0;
        res.setEncoding('utf8');
        res.on('data', (c: string) => { text += c; count++; });
        res.on('end', () => resolve({ headers: res.headers, body: text, chunks: count }));
        res.on('error', reject);
      }).on('error', reject);
    });
    expect(headers['transfer-encoding']).toBe('chunked');
    expect(headers['content-length']).toBeUndefined();
    expect(chunks).toBeGreaterThan(1);
    const rows = parseCsv(body);
    expect(rows).toHaveLength(N + 1);
    expect(rows[0].slice(0, 7)).toEqual(['index', 'run_id', 'status', 'contract', 'core_version', 'q', 'seed']);
    expect(rows.slice(1).every((r, i) => r[0] === String(i))).toBe(true);
    expect(rows.filter((r) => r[2] === 'failed')).toHaveLength(N / 1000);
    expect(rows[1000][rows[0].indexOf('error')]).toBe('x,y');
    expect(Number(rows[12346][rows[0].indexOf('summary.basinShare.0')])).toBe(12345 / N);
  });

  it('streams the NDJSON export too', async () => {
    const res = await get(`/v1/sweeps/${id}/runs.ndjson?status=succeeded`);
    const lines = res.body.trimEnd().split('\n');
    expect(lines).toHaveLength(N - N / 1000);
    expect(JSON.parse(lines[lines.length - 1]).index).toBe(N - 2);
  });
});

describe('the export of a cancelled sweep', () => {
  it('shows its queued runs as cancelled before the background pass has written their rows', async () => {
    const { id, fixtures } = await insertSmallSweep(pool);
    const queued = fixtures.filter((f) => f.status === 'queued').map((f) => f.index);
    expect(queued.length).toBeGreaterThan(0);
    // What a cancel leaves at first: the sweep says cancelled, its queued rows are not written yet.
    await pool.query(`UPDATE sweeps SET status = 'cancelled', finished_at = now() WHERE id = $1`, [id]);
    const rows = parseCsv((await get(`/v1/sweeps/${id}/runs.csv`)).body);
    const status = rows[0].indexOf('status');
    expect(rows.slice(1).filter((r) => r[status] === 'cancelled').map((r) => Number(r[0]))).toEqual(queued);
    expect(rows.slice(1).some((r) => r[status] === 'queued')).toBe(false);
    const only = (await get(`/v1/sweeps/${id}/runs.ndjson?status=cancelled`)).body.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(only.map((r) => [r.index, r.status])).toEqual(queued.map((i) => [i, 'cancelled']));
    expect((await get(`/v1/sweeps/${id}/runs.ndjson?status=queued`)).body.trim()).toBe('');
  });
});
