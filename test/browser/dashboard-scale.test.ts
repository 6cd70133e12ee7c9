// The dashboard on a one-million-run sweep (headless Chromium, playwright-core with the
// system browser): the statistics table and the phase diagram come from server-side
// aggregates and pages, so the page stays responsive. The sweep is synthesised in SQL
// (generate_series: q 100 x D 100 x 100 seeds, every run succeeded with a small result),
// not computed. The figures (time to the first table and diagram, cold and after the
// server kept the aggregates; the longest task on the page's main thread) are printed.
import { existsSync, mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createKey, createPool, createTeam, encodeTrajectory } from '@curation/db';
import { createTestDatabase, createTestRedis, type TestDatabase } from '../support/services.ts';
import { buildApp } from '../../apps/api/src/app.ts';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-results', 'dashboard');
const hasChromium = existsSync(CHROMIUM);
const QS = 100;
const DS = 100;
const SEEDS = 100;
const RUNS = QS * DS * SEEDS;

/** Runs and results of the sweep, one statement each per slice (a few seconds apiece). */
async function synthesise(url: string, teamId: string): Promise<string> {
  const pool = createPool(url, 2);
  const id = randomUUID();
  try {
    const spec = {
      name: 'a million runs', tags: ['browser-scale'],
      base: { support: { kind: 'grid', min: -12, max: 12, n: 401 }, rewards: [{ kind: 'quadratic', center: 0 }, { kind: 'quadratic', center: 0 }], iterations: 300 },
      axes: [{ param: 'q', linspace: [0.02, 0.98, QS] }, { param: 'D', linspace: [0.5, 8, DS] }, { param: 'seed', replicates: SEEDS }],
    };
    await pool.query(
      `INSERT INTO sweeps (id, name, tags, spec, total, status, enqueued, core_version, team_id, created_at, started_at, finished_at)
       VALUES ($1, $2, $3, $4, $5, 'succeeded', $5, '2.0.0', $6, now() - interval '1 hour', now() - interval '1 hour', now())`,
      [id, spec.name, spec.tags, JSON.stringify(spec), RUNS, teamId],
    );
    // Two records: a real trajectory would be most of the bytes written (and of the time).
    const trajectory = encodeTrajectory([0, 300].map((t) => ({
      t, entropy: 1, effectiveSupport: 2, mass: [0.5 - t / 1000, 0.45 + t / 1000], outside: 0.05,
      meanReward: [0, 0], varReward: [1, 1], step: 1e-9, shareStep: 1e-9,
    })) as never);
    const base = (await pool.query<{ n: string }>('SELECT coalesce(max(id), 0) AS n FROM results')).rows[0].n;
    // As a bulk load does it: the secondary indexes and foreign keys of runs and results
    // dropped while the rows go in, rebuilt from their own definitions after.
    const { rows: rebuild } = await pool.query<{ drop: string; create: string }>(
      `SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname) AS drop,
              format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname, pg_get_constraintdef(oid)) AS create
         FROM pg_constraint WHERE conrelid IN ('runs'::regclass, 'results'::regclass) AND contype = 'f'
       UNION ALL
       SELECT format('DROP INDEX %s', indexrelid::regclass), pg_get_indexdef(indexrelid)
         FROM pg_index WHERE indrelid IN ('runs'::regclass, 'results'::regclass) AND NOT indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = indexrelid)`,
    );
    for (const r of rebuild) await pool.query(r.drop);
    const slice = RUNS / 4;
    // Result id = base + index + 1, so each run names its result without a join.
    const insert = (k: number) => pool.query(
      `WITH p AS MATERIALIZED (
         SELECT g, $2::bigint + g + 1 AS rid, q, d, g % ${SEEDS} AS seed,
                least(1, greatest(0, q + (0.5 - q) * exp(-d / 2) + 0.02 * sin(g * 12.9898))) AS s0
           FROM (SELECT g, 0.02 + 0.96 * (g / ${DS * SEEDS}) / ${QS - 1}::float8 AS q,
                        0.5 + 7.5 * ((g / ${SEEDS}) % ${DS}) / ${DS - 1}::float8 AS d
                   FROM generate_series($3::int, $4::int - 1) g) a
       ), res AS (
         INSERT INTO results (id, config_hash, core_version, git_revision, config, summary, trajectory, converged, converged_at,
                              collapsed, nash_gap, basin_share0, surviving_basins, in_interval, final_entropy, duration_ms)
         SELECT rid, $1::text || ':' || g, '2.0.0', 'synthetic', '{}',
                jsonb_build_object('basinShare', jsonb_build_array(s0, 1 - s0), 'nashGap', abs(s0 - q), 'converged', true,
                                   'collapsed', greatest(s0, 1 - s0) >= 0.99, 'survivingBasins', 2),
                $5::bytea, true, 100, greatest(s0, 1 - s0) >= 0.99, abs(s0 - q), s0, 2, abs(s0 - q) <= 0.05, 1, 1
           FROM p
       )
       INSERT INTO runs (sweep_id, index, params, status, result_id, attempts, started_at, finished_at)
       SELECT $1::uuid, g, jsonb_build_object('q', q, 'D', d, 'seed', seed), 'succeeded', rid, 1, now(), now() FROM p`,
      [id, base, k * slice, (k + 1) * slice, trajectory],
    );
    // Two connections, two slices each.
    await Promise.all([[0, 1], [2, 3]].map(async (ks) => { for (const k of ks) await insert(k); }));
    await pool.query(`SELECT setval('results_id_seq', (SELECT max(id) FROM results))`);
    const fk = (r: { create: string }) => r.create.startsWith('ALTER TABLE');
    await Promise.all([0, 1].map(async (w) => {
      for (const r of rebuild.filter((x, i) => !fk(x) && i % 2 === w)) await pool.query(r.create);
    }));
    for (const r of rebuild.filter(fk)) await pool.query(r.create);
    // As autovacuum would: statistics for the planner, the visibility map for index-only scans.
    await pool.query('VACUUM ANALYZE runs');
    await pool.query('VACUUM ANALYZE results');
    return id;
  } finally {
    await pool.end();
  }
}

describe.skipIf(!hasChromium)('the dashboard on a one-million-run sweep', () => {
  let db: TestDatabase;
  let app: FastifyInstance;
  let browser: Browser | undefined;
  let page: Page;
  let base: string;
  let sweepId: string;
  let apiKey = '';
  const pageErrors: string[] = [];
  /** The page's requests to the API, for the per-request figures; cleared on each visit. */
  type Req = { path: string; startMs: number; ttfbMs: number; endMs: number; bytes: number; serverMs?: number };
  let requests: Req[] = [];
  const serverMs = new Map<string, number[]>();

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    db = await createTestDatabase();
    const redis = await createTestRedis();
    app = await buildApp({ databaseUrl: db.url, redisUrl: redis.url, prefix: redis.prefix, logger: false, rateLimit: false });
    // What the server spent on each request (from its arrival to the last byte sent).
    app.addHook('onResponse', async (request, reply) => {
      const list = serverMs.get(request.url) ?? [];
      list.push(reply.elapsedTime);
      serverMs.set(request.url, list);
    });
    const pool = createPool(db.url, 1);
    let teamId: string;
    try {
      teamId = (await createTeam(pool, 'dashboard-scale')).id;
      apiKey = (await createKey(pool, teamId, { name: 'browser' })).key;
    } finally {
      await pool.end();
    }
    const t = performance.now();
    sweepId = await synthesise(db.url, teamId);
    console.log(`[dashboard-scale] ${RUNS} runs synthesised in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.addInitScript((key) => {
      if (!localStorage.getItem('sweepApiKey')) localStorage.setItem('sweepApiKey', key);
      // The longest task on the main thread: how long the page could not answer a click.
      (window as unknown as { longest: number }).longest = 0;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          const w = window as unknown as { longest: number };
          w.longest = Math.max(w.longest, e.duration);
        }
      }).observe({ type: 'longtask', buffered: true });
    }, apiKey);
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !/Failed to load resource: .* status of 4\d\d/.test(msg.text())) pageErrors.push(`console: ${msg.text()}`);
    });
    page.on('response', (res) => { if (res.status() >= 500) pageErrors.push(`HTTP ${res.status()} ${res.url()}`); });
    page.on('requestfinished', async (req) => {
      const url = new URL(req.url());
      if (!url.pathname.startsWith('/v1/')) return;
      const t = req.timing();
      const sizes = await req.sizes().catch(() => ({ responseBodySize: 0 }));
      const path = url.pathname + url.search;
      requests.push({
        path, startMs: t.startTime, ttfbMs: t.responseStart, endMs: t.responseEnd, bytes: sizes.responseBodySize,
        serverMs: serverMs.get(path)?.shift(),
      });
    });
  }, 240_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await app?.close().catch(() => {});
    await db?.drop().catch(() => {});
  });

  /** One line per API request of the page: when it started, its first and last byte, its size, the server's time. */
  const printRequests = (label: string, t0: number) => {
    const f = (x: number) => `${Math.round(x)}`.padStart(6);
    const lines = requests.map((r) => `  ${f(r.startMs - t0)} +${f(r.ttfbMs)} first byte +${f(r.endMs)} last byte (ms) ` +
      `${String(r.bytes).padStart(8)} B  server ${r.serverMs === undefined ? '?' : f(r.serverMs)} ms  ${r.path.replace(sweepId, ':id')}`);
    console.log(`[dashboard-scale] ${label}: API requests of the page (start after navigation, load ${loadavg().map((x) => x.toFixed(1)).join(' ')})\n${lines.join('\n')}`);
  };

  /** Opens the sweep page; ms until the stats table and the phase diagram are drawn, and the longest main-thread task. */
  const open = async (label: string) => {
    requests = [];
    await page.evaluate(() => { (window as unknown as { longest: number }).longest = 0; }).catch(() => {});
    const t = performance.now();
    const t0 = Date.now();
    await page.goto(`${base}/sweeps/${sweepId}`);
    await page.locator('#stats table tbody tr').first().waitFor({ timeout: 90_000 });
    const statsMs = performance.now() - t;
    await page.locator('#heatmap svg .cell').first().waitFor({ timeout: 90_000 });
    const heatmapMs = performance.now() - t;
    await page.locator('#runs table tbody tr').first().waitFor({ timeout: 30_000 });
    const longestTaskMs = await page.evaluate(() => (window as unknown as { longest: number }).longest);
    // requestfinished can come a moment after the rows are drawn.
    await expect.poll(() => ['/plot.svg?', '/stats?', '/runs?limit='].every((p) => requests.some((r) => r.path.includes(p))), { timeout: 10_000 }).toBe(true);
    printRequests(label, t0);
    return { statsMs, heatmapMs, longestTaskMs, requests: [...requests] };
  };

  /** What the page asks of the API on a visit, and how much comes back: nothing in proportion to the million runs. */
  const checkRequests = (list: Req[]) => {
    const paths = list.map((r) => r.path.replace(sweepId, ':id'));
    // Each request once (no second statement for the same aggregate), and only these.
    expect(new Set(paths).size).toBe(paths.length);
    expect(paths.filter((p) => !p.startsWith('/v1/sweeps/:id'))).toEqual([]);
    expect(paths.length).toBeLessThanOrEqual(6);
    const one = (part: string) => {
      const found = list.filter((r) => r.path.includes(part));
      expect(found, part).toHaveLength(1);
      return found[0];
    };
    // One keyset page of 100 runs (no offset, no count over the sweep).
    const runs = one('/runs?limit=');
    expect(runs.path).toMatch(/\/runs\?limit=100$/);
    // One page of 200 groups.
    expect(one('/stats?').bytes).toBeLessThan(200 * 1000);
    // The phase diagram: one cell per group of a bounded size (its exact keys and value, no tooltip of its own).
    expect(one('/plot.svg?').bytes).toBeLessThan(QS * DS * 250 + 50_000);
  };

  it('shows a page of the statistics and the whole phase diagram, and answers a click at once', async () => {
    const cold = await open('cold');
    checkRequests(cold.requests);
    // One page of groups, and how many there are.
    expect(await page.locator('#stats table tbody tr').count()).toBe(200);
    expect(await page.locator('#stats-more').textContent()).toBe(`Show more groups (200 of ${QS * DS} shown)`);
    expect(await page.locator('#heatmap svg .cell').count()).toBe(QS * DS);
    expect(await page.locator('#runs table tbody tr').count()).toBe(100);
    await page.screenshot({ path: join(SHOTS, 'scale-1M-sweep.png'), fullPage: true });

    // The aggregates of a finished sweep are kept: a second visit draws at once.
    const warm = await open('kept');
    checkRequests(warm.requests);
    // Nothing per cell on the page: the cells and little else, one of them in the tab order.
    expect(await page.locator('#heatmap svg *').count()).toBeLessThan(QS * DS + 500);
    expect(await page.locator('#heatmap [tabindex]').count()).toBe(1);
    // The arrow keys move it, and it is labelled when it gets there.
    await page.locator('#heatmap [tabindex]').focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowUp');
    expect(await page.evaluate(() => {
      const a = document.activeElement as SVGElement | null;
      return a?.classList.contains('cell') ? `${a.getAttribute('aria-label')}` : 'not a cell';
    })).toMatch(/^q=0\.02969\d*, D=0\.5757\d*: 0\.\d+ \(n=100\)$/);
    expect(await page.locator('#heatmap [tabindex]').count()).toBe(1);
    // The next page of groups.
    let t = performance.now();
    await page.locator('#stats-more').click();
    await expect.poll(() => page.locator('#stats table tbody tr').count(), { timeout: 30_000 }).toBe(400);
    const moreMs = performance.now() - t;
    // A cell of the phase diagram shows its group's first run.
    t = performance.now();
    await page.locator('#heatmap .cell').nth(QS * DS - 1).click();
    await page.locator('#trajectory svg').waitFor({ timeout: 30_000 });
    const clickMs = performance.now() - t;
    const longestTaskMs = await page.evaluate(() => (window as unknown as { longest: number }).longest);
    const f = (x: number) => `${Math.round(x)} ms`;
    console.log(
      `[dashboard-scale] cold: stats ${f(cold.statsMs)}, phase diagram ${f(cold.heatmapMs)}, longest task ${f(cold.longestTaskMs)}; ` +
      `kept: stats ${f(warm.statsMs)}, phase diagram ${f(warm.heatmapMs)}, longest task ${f(warm.longestTaskMs)}; ` +
      `next page of groups ${f(moreMs)}; cell click to trajectory ${f(clickMs)}; longest task after ${f(longestTaskMs)}`,
    );
    // The table's request itself, now that the server keeps the aggregates: no statement over the million runs.
    t = performance.now();
    const res = await fetch(`${base}/v1/sweeps/${sweepId}/stats?metrics=summary.basinShare.0&limit=200&groupBy=q,D`, { headers: { authorization: `Bearer ${apiKey}` } });
    expect((await res.json()).groupCount).toBe(QS * DS);
    const keptApiMs = performance.now() - t;
    console.log(`[dashboard-scale] the table's stats request, kept: ${f(keptApiMs)}`);
    // Each request of the page alone (one after another, five times, the median): what it
    // costs without the others of the page waiting on the same two cores.
    const alone: string[] = [];
    for (const r of warm.requests) {
      const client: number[] = [];
      const server: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t1 = performance.now();
        const reply = await fetch(`${base}${r.path}`, { headers: { authorization: `Bearer ${apiKey}` } });
        await reply.arrayBuffer();
        client.push(performance.now() - t1);
        server.push(serverMs.get(r.path)?.pop() ?? NaN);
        serverMs.delete(r.path);
      }
      const median = (xs: number[]) => xs.sort((a, b) => a - b)[2];
      alone.push(`  ${f(median(client)).padStart(8)} (server ${f(median(server))})  ${r.path.replace(sweepId, ':id')}`);
    }
    console.log(`[dashboard-scale] each request alone, median of 5 (load ${loadavg().map((x) => x.toFixed(1)).join(' ')}):\n${alone.join('\n')}`);
    // Bounds with room for a loaded CI machine: what matters is that nothing scales with the million runs in the browser.
    expect(keptApiMs).toBeLessThan(3_000);
    expect(warm.statsMs).toBeLessThan(30_000);
    expect(warm.heatmapMs).toBeLessThan(30_000);
    expect(Math.max(cold.longestTaskMs, warm.longestTaskMs, longestTaskMs)).toBeLessThan(3_000);
    expect(pageErrors).toEqual([]);
  }, 180_000);
});
