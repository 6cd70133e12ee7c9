// End to end in headless Chromium (playwright-core with the system browser): the whole
// API and a real worker, a sweep submitted through the dashboard's form, live progress
// to 100%, the stats table, the phase diagram and a run's trajectory. Screenshots of
// every step go to test-results/dashboard/ (gitignored).
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createKey, createPool, createTeam } from '@curation/db';
import { createTestDatabase, createTestRedis, type TestDatabase } from '../support/services.ts';
import { buildApp } from '../../apps/api/src/app.ts';
import { startWorker, type RunningWorker } from '../../apps/worker/src/worker.ts';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHOTS = join(ROOT, 'test-results', 'dashboard');
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`dashboard browser test skipped: ${CHROMIUM} does not exist (install Debian's chromium package)`);

// In CI (CI=true, as .ci/run sets it) a missing browser fails instead: the dashboard must not go untested.
describe.runIf(!hasChromium && process.env.CI === 'true')('web dashboard in CI', () => {
  it(`needs ${CHROMIUM}`, () => {
    expect.fail(`${CHROMIUM} does not exist: CI tests the dashboard in Debian's chromium (apt-get install chromium)`);
  });
});

// q in [0.2, 0.5] x D in [2, 4] on a small C.4 geometry. The name has markup in it: it
// must show as text.
const SPEC_YAML = `name: "dashboard <b>e2e</b>"
tags: [c4, browser-test]
description: small C.4 phase diagram
base:
  support: { kind: grid, min: -12, max: 12, n: 121 }
  rewards:
    - { kind: quadratic, center: 0 }
    - { kind: quadratic, center: 0 }
  iterations: 50
axes:
  - { param: q, values: [0.2, 0.5] }
  - { param: D, values: [2, 4] }
derive:
  rewards.0.center: "[-D/2]"
  rewards.1.center: "[D/2]"
`;
const SWEEP_NAME = 'dashboard <b>e2e</b>';

describe.skipIf(!hasChromium)('web dashboard in headless Chromium', () => {
  let db: TestDatabase;
  let app: FastifyInstance;
  let worker: RunningWorker | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let base: string;
  /** A key of the team the browser acts as (every /v1 route needs one). */
  let apiKey = '';
  const pageErrors: string[] = [];
  let shot = 0;

  const screenshot = async (name: string, fullPage = false) => {
    shot += 1;
    await page.screenshot({ path: join(SHOTS, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage });
  };

  beforeAll(async () => {
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
    db = await createTestDatabase();
    const redis = await createTestRedis();
    app = await buildApp({ databaseUrl: db.url, redisUrl: redis.url, prefix: redis.prefix, logger: false });
    const keyPool = createPool(db.url, 1);
    try {
      apiKey = (await createKey(keyPool, (await createTeam(keyPool, 'dashboard-test')).id, { name: 'browser' })).key;
    } finally {
      await keyPool.end();
    }
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    worker = await startWorker({
      databaseUrl: db.url, redisUrl: redis.url, prefix: redis.prefix, concurrency: 1,
      logger: pino({ level: 'silent' }),
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    // The key the dashboard sends, as if the user had entered it once (kept if they change it).
    await context.addInitScript((key) => { if (!localStorage.getItem('sweepApiKey')) localStorage.setItem('sweepApiKey', key); }, apiKey);
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(`pageerror: ${err.message}`));
    // Expected 4xx answers (a refused spec) are shown by the page; server errors are not expected.
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !/Failed to load resource: .* status of 4\d\d/.test(msg.text())) pageErrors.push(`console: ${msg.text()}`);
    });
    page.on('response', (res) => { if (res.status() >= 500) pageErrors.push(`HTTP ${res.status()} ${res.url()}`); });
  });

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await worker?.close().catch(() => {});
    await app?.close().catch(() => {});
    await db?.drop().catch(() => {});
  });

  it('serves the pages and assets with the right types and caching', async () => {
    // Bodies are always read, so no keep-alive connection is left busy when the app closes.
    const get = async (path: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${base}${path}`, { headers });
      return { status: res.status, headers: res.headers, body: await res.text() };
    };
    const html = await get('/');
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html.headers.get('cache-control')).toBe('no-cache');
    expect(html.headers.get('content-security-policy')).toContain("script-src 'self'");
    const js = html.body.match(/src="(\/assets\/app\.js\?v=[\w-]+)"/)?.[1];
    expect(js).toBeTruthy();
    const jsRes = await get(js!);
    expect(jsRes.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(jsRes.headers.get('cache-control')).toMatch(/max-age=\d+/);
    expect((await get(js!, { 'if-none-match': jsRes.headers.get('etag')! })).status).toBe(304);
    // The entry's modules, at the relative URLs it imports them by: JavaScript, revalidated by ETag.
    const imports = [...jsRes.body.matchAll(/from '\.\/([\w-]+\.js)'/g)].map((m) => m[1]);
    expect(imports).toEqual(['list-page.js', 'sweep-page.js']);
    for (const name of imports) {
      const mod = await get(`/assets/${name}`);
      expect(mod.status).toBe(200);
      expect(mod.headers.get('content-type')).toMatch(/^text\/javascript/);
      expect(mod.headers.get('cache-control')).toBe('no-cache');
      expect((await get(`/assets/${name}`, { 'if-none-match': mod.headers.get('etag')! })).status).toBe(304);
    }
    expect((await get('/assets/nope.js')).status).toBe(404);
    const css = await get('/assets/app.css');
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
    const sweepPage = await get('/sweeps/00000000-0000-0000-0000-000000000000');
    expect(sweepPage.headers.get('content-type')).toMatch(/^text\/html/);
    expect(sweepPage.body).toContain('data-page="sweep"');
  });

  it('submits a sweep, follows it to 100% and shows a run picked in the phase diagram', async () => {
    await page.goto(`${base}/`);
    await page.locator('#sweeps tbody td.empty').waitFor();
    await screenshot('list-empty');

    // A refused specification shows its issues (path and message).
    await page.fill('#spec', '{"name": "bad", "base": {"support": {"kind": "grid", "min": 0, "max": 1, "n": 11}}, "axes": [{"param": "q", "values": []}]}');
    await page.click('#submit-form button[type="submit"]');
    const refusal = page.locator('#submit-result .banner-error');
    await refusal.waitFor();
    expect(await refusal.locator('li code').count()).toBeGreaterThan(0);
    await screenshot('submit-refused');

    // The real one, in YAML.
    await page.fill('#spec', SPEC_YAML);
    await page.click('#submit-form button[type="submit"]');
    await page.locator('#submit-result .banner-ok').waitFor();
    const row = page.locator('#sweeps tbody tr', { hasText: SWEEP_NAME });
    await row.waitFor();
    // Markup in the name is text, not HTML.
    expect(await row.locator('td a').textContent()).toBe(SWEEP_NAME);
    expect(await page.locator('#sweeps b').count()).toBe(0);
    expect(await row.locator('.tag').allTextContents()).toEqual(['c4', 'browser-test']);
    await screenshot('list-submitted');

    // The list updates on its own: the same row reaches 100% without a reload.
    await row.locator('.progress[data-pct="100"]').waitFor({ timeout: 40_000 });
    await row.locator('.badge-succeeded').waitFor();
    await screenshot('list-finished');

    await row.locator('td a').click();
    await page.waitForURL(/\/sweeps\/[0-9a-f-]{36}$/);
    await page.locator('#progress .progress[data-pct="100"]').waitFor();
    await page.locator('#sweep-status .badge-succeeded').waitFor();
    expect(await page.locator('#sweep-name').textContent()).toBe(SWEEP_NAME);
    expect(await page.locator('#progress .label').textContent()).toContain('4/4');
    await screenshot('sweep-page', true);

    // Stats grouped by q and D (the defaults): one row per group.
    await page.locator('#stats table tbody tr').first().waitFor();
    expect(await page.locator('#stats table tbody tr').count()).toBe(4);
    // Group by q only: two groups.
    await page.locator('#groupby input[value="D"]').uncheck();
    await expect.poll(() => page.locator('#stats table tbody tr').count()).toBe(2);
    // A group of two runs shows its first one (named by the server, no lookup).
    await page.locator('#stats table tbody tr').first().click();
    await expect.poll(() => page.locator('#trajectory-head').textContent()).toMatch(/Run #0\b/);
    await page.locator('#groupby input[value="D"]').check();
    await expect.poll(() => page.locator('#stats table tbody tr').count()).toBe(4);
    // Which results: one contract, named with its core version above the table.
    expect(await page.locator('#stats-provenance').textContent()).toMatch(/basin share \(reward 1\) \(summary\.basinShare\.0\) · contract \d+, core \d+\.\d+\.\d+$/);
    // Value choices: the label names the reward, then the one name the API, CSV and plots use.
    const options = await page.locator('#stats-metric option').allTextContents();
    expect(options).toContain('basin share (reward 1) · summary.basinShare.0');
    expect(options).toContain('audit: lemma applies · summary.audit.applies');
    expect(options.some((o) => /basin (share )?[0-9]/.test(o))).toBe(false);
    // The variables are the API's (GET /fields): the axis variables, then the derived parameters; the axes are the defaults.
    expect(await page.locator('#groupby input').evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value)))
      .toEqual(['q', 'D', 'rewards.0.center', 'rewards.1.center']);
    expect(await page.locator('#groupby input:checked').evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value))).toEqual(['q', 'D']);
    expect([await page.locator('#hm-x').inputValue(), await page.locator('#hm-y').inputValue()]).toEqual(['q', 'D']);
    expect(await page.locator('#failed').textContent()).toContain('No failed runs');

    // The phase diagram: 2 x 2 cells.
    const heatmap = page.locator('#heatmap');
    await heatmap.scrollIntoViewIfNeeded();
    await heatmap.locator('svg .cell').first().waitFor();
    expect(await heatmap.locator('svg .cell').count()).toBe(4);
    await screenshot('heatmap');

    // Click the cell q = 0.5, D = 4: its run's trajectory appears.
    const cell = heatmap.locator('.cell[data-x="0.5"][data-y="4"]');
    await cell.click();
    const head = page.locator('#trajectory-head');
    await expect.poll(() => head.textContent()).toMatch(/Run #\d+/);
    await page.locator('#trajectory svg').waitFor();
    const headText = (await head.textContent())!;
    expect(headText).toContain('q=0.5');
    expect(headText).toContain('D=4');
    expect(headText).toContain('Run #3'); // last axis fastest: (q 0.5, D 4) is index 3
    expect(await page.locator('#run-summary dl').textContent()).toContain('basin shares');
    await page.locator('#trajectory-section').scrollIntoViewIfNeeded();
    await screenshot('trajectory');

    // A row of the runs table does the same.
    await page.locator('#runs tr[data-index="0"]').click();
    await expect.poll(() => head.textContent()).toContain('Run #0');
    expect(await head.textContent()).toContain('q=0.2');
    await page.locator('#trajectory svg').waitFor();
    await screenshot('trajectory-from-runs-table', true);

    // The cell's link, opened in a new tab: the dashboard on that run (not a 401 from /v1).
    const href = (await heatmap.locator('a:has(.cell[data-x="0.5"][data-y="4"])').getAttribute('href'))!;
    expect(href).toMatch(/^\/sweeps\/[0-9a-f-]{36}#run=\d+$/);
    const tab = await page.context().newPage();
    await tab.goto(`${base}${href}`);
    await expect.poll(() => tab.locator('#trajectory-head').textContent()).toContain('Run #3');
    await tab.locator('#trajectory svg').waitFor();
    await tab.close();

    expect(pageErrors).toEqual([]);
  });

  it('draws a line plot for one axis variable and lists failed runs with their errors', async () => {
    const spec = {
      name: 'one axis', tags: ['browser-test'],
      base: {
        support: { kind: 'grid', min: -12, max: 12, n: 61 },
        rewards: [{ kind: 'quadratic', center: -2 }, { kind: 'quadratic', center: 2 }],
        iterations: 20,
      },
      axes: [{ param: 'q', values: [0.2, 0.35, 0.5] }],
    };
    const res = await fetch(`${base}/v1/sweeps`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` }, body: JSON.stringify(spec) });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    await expect.poll(async () => ((await (await fetch(`${base}/v1/sweeps/${id}`, { headers: { authorization: `Bearer ${apiKey}` } })).json()) as { status: string }).status,
      { timeout: 30_000 }).toBe('succeeded');
    // Make one run look failed, with markup in its error (it must show as text).
    const pool = createPool(db.url);
    try {
      await pool.query(`UPDATE runs SET status = 'failed', result_id = NULL, error = $2 WHERE sweep_id = $1 AND index = 1`,
        [id, 'simulation diverged <img src=x onerror=alert(1)> at t=3']);
      await pool.query(`UPDATE sweeps SET status = 'failed' WHERE id = $1`, [id]);
    } finally {
      await pool.end();
    }
    await page.goto(`${base}/sweeps/${id}`);
    await page.locator('#sweep-status .badge-failed').waitFor();
    const failed = page.locator('#failed td.error');
    await failed.waitFor();
    expect(await failed.textContent()).toBe('simulation diverged <img src=x onerror=alert(1)> at t=3');
    expect(await page.locator('#failed img').count()).toBe(0);
    expect(await page.locator('#sweep-retry').isVisible()).toBe(true);
    await page.locator('#heatmap svg').waitFor();
    expect(await page.locator('#hm-y').isVisible()).toBe(false);
    expect(await page.locator('#stats table tbody tr').count()).toBe(2); // the failed run is in no group
    await screenshot('one-axis-with-failure', true);
    // A failed run shows its error instead of a trajectory.
    await page.locator('#failed tr[data-index="1"]').click();
    await expect.poll(() => page.locator('#trajectory').textContent()).toContain('failed');
    expect(await page.locator('#run-summary').textContent()).toContain('simulation diverged <img');
    expect(pageErrors).toEqual([]);
  });

  it('asks for an API key when the API answers 401', async () => {
    await page.route('**/v1/**', (route) => route.fulfill({
      status: 401, contentType: 'application/json',
      body: JSON.stringify({ statusCode: 401, error: 'Unauthorized', message: 'missing or invalid API key' }),
    }));
    await page.goto(`${base}/`);
    const banner = page.locator('#auth-banner');
    await banner.waitFor();
    expect(await banner.textContent()).toContain('API key');
    expect(await page.locator('#sweeps tbody').textContent()).toContain('Set an API key');
    await screenshot('auth-prompt');
    // The key is stored and sent as a bearer token.
    let seen: string | undefined;
    await page.unroute('**/v1/**');
    await page.route('**/v1/sweeps?*', async (route) => {
      seen = route.request().headers().authorization;
      await route.continue();
    });
    await page.fill('#apikey', apiKey);
    await page.click('#apikey-form button[type="submit"]');
    await expect.poll(() => seen).toBe(`Bearer ${apiKey}`);
    await banner.waitFor({ state: 'hidden' });
    expect(await page.evaluate(() => localStorage.getItem('sweepApiKey'))).toBe(apiKey);
    await page.unroute('**/v1/sweeps?*');
  });
});
