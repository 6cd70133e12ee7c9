// The API commands of `sweep` (submit, status, list, cancel, retry, stats, export, plot),
// spawned as a user would run them against a real API (buildApp, listening on a free
// port) with a real worker, on a fresh database and BullMQ prefix.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../apps/api/src/app.ts';
import { startWorker, type RunningWorker } from '../../../apps/worker/src/worker.ts';
import { createTestDatabase, createTestRedis, type TestDatabase } from '../../../test/support/services.ts';
import { waitFor } from '../../../test/support/wait-for.ts';
import { runSweep, SWEEP_BIN as BIN, type ProcessResult as Result } from '../../../test/support/run-process.ts';
import { createKey, createTeam } from '@curation/db';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Spawns the command without blocking this process (the API answers from here). */
function sweep(args: string[], o: { input?: string; env?: Record<string, string>; api?: string | null } = {}): Promise<Result> {
  const env: Record<string, string | undefined> = { ...process.env, SWEEP_API_KEY: apiKey, ...o.env };
  if (o.api !== null) env.SWEEP_API = o.api ?? api;
  return runSweep(args, { env, input: o.input });
}

const BASE = {
  support: { kind: 'grid', min: -3, max: 3, n: 61 },
  rewards: [{ kind: 'quadratic', center: -1 }, { kind: 'quadratic', center: 1 }],
  iterations: 20,
};

/** q x D, 3 x 2 = 6 cheap configurations. */
const SPEC = {
  name: 'cli test',
  tags: ['cli-test'],
  base: BASE,
  axes: [{ param: 'q', values: [0.2, 0.5, 0.8] }, { param: 'D', values: [1, 2] }],
  derive: { 'rewards.0.center': '[-D/2]', 'rewards.1.center': '[D/2]' },
};

const YAML_SPEC = `name: cli yaml
tags: [cli-test]
base:
  support: { kind: grid, min: -3, max: 3, n: 61 }
  rewards:
    - { kind: quadratic, center: -1 }
    - { kind: quadratic, center: 1 }
  iterations: 20
axes:
  - { param: q, values: [0.3, 0.6] }
`;

let db: TestDatabase;
let app: FastifyInstance;
let worker: RunningWorker;
let api = '';
/** A key of the team the tests act as (every /v1 route needs one). */
let apiKey = '';
const authHeaders = () => ({ authorization: `Bearer ${apiKey}` });
let dir = '';
/** A sweep submitted with --follow, finished before the tests that read results. */
let doneId = '';

const waitFinished = (id: string, timeoutMs = 30_000) => waitFor(`sweep ${id} finished`, async () => {
  const s = await (await fetch(`${api}/v1/sweeps/${id}`, { headers: authHeaders() })).json() as { status: string };
  return ['succeeded', 'failed', 'cancelled'].includes(s.status) ? s.status : undefined;
}, timeoutMs, 100);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sweep-client-'));
  db = await createTestDatabase();
  const redis = await createTestRedis();
  app = await buildApp({ databaseUrl: db.url, redisUrl: redis.url, prefix: redis.prefix, logger: false });
  const keyPool = new pg.Pool({ connectionString: db.url, max: 1 });
  try {
    const team = await createTeam(keyPool, 'cli-test');
    apiKey = (await createKey(keyPool, team.id, { name: 'cli test' })).key;
  } finally {
    await keyPool.end();
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  api = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  worker = await startWorker({
    databaseUrl: db.url, redisUrl: redis.url, prefix: redis.prefix, concurrency: 1, logger: pino({ level: 'silent' }),
  });
});

afterAll(async () => {
  await worker?.close();
  await app?.close();
  await db?.drop();
});

describe('sweep submit', () => {
  it('submits a JSON file and prints the id (exit 0)', async () => {
    const file = join(dir, 'spec.json');
    writeFileSync(file, JSON.stringify(SPEC));
    const r = await sweep(['submit', file]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(UUID);
  });

  it('submits a YAML file as YAML, and YAML on stdin with -', async () => {
    const file = join(dir, 'spec.yaml');
    writeFileSync(file, YAML_SPEC);
    const r = await sweep(['submit', file]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(UUID);
    const s = await sweep(['submit', '-', '--json'], { input: YAML_SPEC.replace('cli yaml', 'cli stdin') });
    expect(s.code).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject({ total: 2 });
  });

  it('an invalid spec: exit 2 and one line per issue with the configuration and path', async () => {
    const bad = { name: 'cli bad', base: { ...BASE, K: 1 }, axes: [{ param: 'q', values: [0.2, 1.5] }] };
    const r = await sweep(['submit', '-'], { input: JSON.stringify(bad) });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const l of lines) expect(l).toMatch(/^error: (\[config \d+\] )?\/\S*: .+/);
    // K = 1 is wrong in every configuration and no axis sets it: reported once, in base.
    expect(lines).toEqual(['error: /base/K: must be >= 2 (got 1)', 'error: [config 1] /q: must be < 1 (got 1.5)']);
  });

  it('sends an Idempotency-Key, and after a dropped answer retries with the same key: one sweep', async () => {
    // A proxy in front of the API: it forwards the first submission, lets the API answer,
    // then closes the connection instead of passing the answer on.
    const seen: (string | undefined)[] = [];
    let posts = 0;
    const proxy = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method === 'POST') seen.push(req.headers['idempotency-key'] as string | undefined);
        const drop = req.method === 'POST' && ++posts === 1;
        const upstream = http.request(`${api}${req.url}`, { method: req.method, headers: req.headers }, (up) => {
          const body: Buffer[] = [];
          up.on('data', (c: Buffer) => body.push(c));
          up.on('end', () => {
            if (drop) { req.socket.destroy(); return; }
            res.writeHead(up.statusCode ?? 502, up.headers);
            res.end(Buffer.concat(body));
          });
        });
        upstream.end(Buffer.concat(chunks));
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const via = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const name = `cli dropped ${Date.now()}`;
    try {
      const r = await sweep(['submit', '-'], { input: JSON.stringify({ ...SPEC, name }), api: via, env: { SWEEP_RETRY_DELAYS_MS: '100,100' } });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toMatch(UUID);
      expect(r.stderr).toMatch(/^warning: submit: UND_ERR_SOCKET; trying again in 0.1 s \(attempt 2 of 3\)\n/);
      expect(seen).toHaveLength(2);
      expect(seen[0]).toMatch(UUID);
      expect(seen[1]).toBe(seen[0]);
      // Exactly one sweep of that name, and it is the one the CLI printed.
      const list = await (await fetch(`${api}/v1/sweeps?limit=100`, { headers: authHeaders() })).json() as { items: { id: string; name: string }[] };
      expect(list.items.filter((x) => x.name === name).map((x) => x.id)).toEqual([r.stdout.trim()]);
      // A second invocation is a new submission (a new key), and --idempotency-key is sent as given.
      seen.length = 0;
      const again = await sweep(['submit', '-', '--idempotency-key', 'my-key-1'], { input: JSON.stringify({ ...SPEC, name }), api: via });
      expect(again.code, again.stderr).toBe(0);
      expect(seen).toEqual(['my-key-1']);
    } finally {
      await new Promise((r) => proxy.close(r));
    }
    const ids = (await (await fetch(`${api}/v1/sweeps?limit=100`, { headers: authHeaders() })).json() as { items: { name: string }[] }).items.filter((x) => x.name === name);
    expect(ids).toHaveLength(2);
  });

  it('a file that does not parse: exit 2 before any request', async () => {
    const r = await sweep(['submit', '-'], { input: 'name: x\n  bad: [' , api: 'http://127.0.0.1:9' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: stdin is not valid YAML/);
  });

  it('--follow without a terminal: plain progress lines on stderr, the id on stdout, exit 0 once succeeded', async () => {
    const file = join(dir, 'follow.json');
    writeFileSync(file, JSON.stringify({ ...SPEC, name: 'cli follow' }));
    const r = await sweep(['submit', file, '--follow', '--interval', '200']);
    expect(r.stderr).not.toMatch(/\x1b\[/); // no cursor movement: not a progress bar
    expect(r.code).toBe(0);
    doneId = r.stdout.trim();
    expect(doneId).toMatch(UUID);
    expect(r.stderr).toMatch(/\d+\/6 done/);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(new RegExp(`^sweep ${doneId} succeeded: 6 succeeded, 0 failed`));
  });
});

describe('status, list, cancel, retry', () => {
  it('status and list, as text and --json', async () => {
    const s = await sweep(['status', doneId, '--json']);
    expect(s.code).toBe(0);
    const body = JSON.parse(s.stdout);
    expect(body).toMatchObject({ id: doneId, status: 'succeeded', counts: { total: 6, succeeded: 6 } });
    const t = await sweep(['status', doneId]);
    expect(t.stdout).toMatch(/^core\s+contract \d+, core \S+ \(the API's, at submission\)$/m);
    expect(t.stdout).toMatch(/^results\s+contract \d+, core \d+\.\d+\.\d+$/m);
    expect(t.stdout).toMatch(/^status\s+succeeded$/m);
    // The follow test submitted configurations stored before, so its runs say they were reused.
    const reused = body.counts.reused as number;
    expect(reused).toBe(6);
    expect(t.stdout).toMatch(/^progress\s+6\/6 done \(100%\), 6 of 6 reused$/m);

    const l = await sweep(['list', '--json', '--tag', 'cli-test']);
    expect(l.code).toBe(0);
    const page = JSON.parse(l.stdout);
    expect(page.items.map((x: { id: string }) => x.id)).toContain(doneId);
    const lt = await sweep(['list']);
    expect(lt.code).toBe(0);
    expect(lt.stdout.split('\n')[0].split(/\s+/)).toEqual(['id', 'name', 'status', 'done', 'total', 'failed', 'created']);
    expect(lt.stdout).toContain(doneId);
  });

  it('cancel and retry of a finished sweep: 409, exit 4', async () => {
    const c = await sweep(['cancel', doneId]);
    expect(c.code).toBe(4);
    expect(c.stderr.trim().split('\n')).toHaveLength(1);
    expect(c.stderr).toMatch(/^error: .*already succeeded.*\(HTTP 409\)$/m);
    const r = await sweep(['retry', doneId]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^error: .*\(HTTP 409\)\n$/);
  });

  it('cancel of a running sweep (exit 0), then retry puts its runs back (exit 0)', async () => {
    const big = { ...SPEC, name: 'cli cancel', base: { ...BASE, support: { kind: 'grid', min: -6, max: 6, n: 4001 }, iterations: 2000 },
      axes: [{ param: 'q', linspace: [0.01, 0.99, 30] }, { param: 'D', linspace: [0.5, 5, 30] }] };
    const s = await sweep(['submit', '-'], { input: JSON.stringify(big) });
    const id = s.stdout.trim();
    const c = await sweep(['cancel', id]);
    expect(c.code).toBe(0);
    expect(c.stdout).toMatch(new RegExp(`^sweep ${id} cancelled: \\d+ run\\(s\\) cancelled`));
    expect(await waitFinished(id)).toBe('cancelled');
    const r = await sweep(['retry', id, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).affected).toBeGreaterThan(0);
    expect((await sweep(['cancel', id])).code).toBe(0);
  });

  it('Ctrl-C while following detaches (exit 0) and the sweep goes on', async () => {
    const big = { ...SPEC, name: 'cli detach', base: { ...BASE, support: { kind: 'grid', min: -6, max: 6, n: 4001 }, iterations: 2000 },
      axes: [{ param: 'q', linspace: [0.02, 0.98, 30] }, { param: 'D', linspace: [0.6, 5, 30] }] };
    const child = spawn(process.execPath, [BIN, 'submit', '-', '--follow', '--interval', '100'], { env: { ...process.env, SWEEP_API: api, SWEEP_API_KEY: apiKey } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    const firstLine = new Promise<void>((resolve) => {
      child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; if (stderr.includes('done')) resolve(); });
    });
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.stdin.end(JSON.stringify(big));
    await firstLine;
    child.kill('SIGINT');
    expect(await closed).toBe(0);
    const id = stdout.trim();
    expect(stderr.trim().split('\n').at(-1)).toBe(`detached; the sweep goes on: sweep status ${id}`);
    const s = await (await fetch(`${api}/v1/sweeps/${id}`, { headers: authHeaders() })).json() as { status: string };
    expect(['queued', 'running']).toContain(s.status);
    expect((await sweep(['cancel', id])).code).toBe(0);
  });

  it('an unknown id: exit 3, one line', async () => {
    for (const args of [['status', '00000000-0000-4000-8000-000000000000'], ['cancel', 'nope'], ['export', 'nope']]) {
      const r = await sweep(args);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/^error: sweep .* not found \(HTTP 404\)\n$/);
    }
  });

  it('the real API without a key, or with a key of another team: exit 6, exit 3', async () => {
    const none = await sweep(['list'], { env: { SWEEP_API_KEY: '' } });
    expect(none.code).toBe(6);
    expect(none.stderr).toBe('error: no API key (HTTP 401): set SWEEP_API_KEY or pass --api-key\n');
    const bad = await sweep(['status', doneId, '--api-key', `cs_${'x'.repeat(43)}`]);
    expect(bad.code).toBe(6);
    expect(bad.stderr).toBe('error: invalid or revoked API key (HTTP 401): set SWEEP_API_KEY or pass --api-key\n');
    const keyPool = new pg.Pool({ connectionString: db.url, max: 1 });
    let otherKey = '';
    try {
      otherKey = (await createKey(keyPool, (await createTeam(keyPool, 'cli-other')).id)).key;
    } finally {
      await keyPool.end();
    }
    const foreign = await sweep(['status', doneId], { env: { SWEEP_API_KEY: otherKey } });
    expect(foreign.code).toBe(3);
    expect(foreign.stderr).toMatch(/^error: sweep .* not found \(HTTP 404\)\n$/);
  });

  it('an unreachable API: exit 5 and one clear line', async () => {
    const srv = http.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    await new Promise((r) => srv.close(r)); // a port nobody listens on
    const r = await sweep(['status', doneId, '--api', `http://127.0.0.1:${port}`], { api: null });
    expect(r.code).toBe(5);
    expect(r.stderr).toBe(`error: cannot reach the API at http://127.0.0.1:${port}: ECONNREFUSED\n`);
  });

  it('sends the API key as a bearer token; 401 -> exit 6, 429 -> exit 7', async () => {
    const seen: (string | undefined)[] = [];
    let status = 401;
    const srv = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ statusCode: status, error: 'x', message: status === 401 ? 'missing or invalid API key' : 'slow down' }));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    try {
      const a = await sweep(['list', '--api-key', 'k1'], { api: url });
      expect(a.code).toBe(6);
      expect(a.stderr).toBe('error: missing or invalid API key (HTTP 401): set SWEEP_API_KEY or pass --api-key\n');
      status = 429;
      const b = await sweep(['list'], { api: url, env: { SWEEP_API_KEY: 'k2' } });
      expect(b.code).toBe(7);
      expect(seen).toEqual(['Bearer k1', 'Bearer k2']);
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });
});

describe('stats, export, plot', () => {
  it('stats: an aligned table with the group-by columns first; --json parses', async () => {
    const r = await sweep(['stats', doneId, '--group-by', 'q,D', '--metric', 'summary.basinShare.0']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // First which results: one contract, its core version; then the table.
    const [provenance, ...lines] = r.stdout.trimEnd().split('\n');
    expect(provenance).toMatch(/^contract \d+, core \d+\.\d+\.\d+$/);
    expect(lines).toHaveLength(1 + 6);
    const header = lines[0].trim().split(/\s+/);
    expect(header.slice(0, 3)).toEqual(['q', 'D', 'n']);
    // the metric's one name, as typed in --metric, the API and the CSV
    expect(header).toContain('mean(summary.basinShare.0)');
    // Every column is right-aligned numbers: all lines have the same length and the
    // header's column ends line up with each row's.
    const ends = (l: string) => [...l.matchAll(/\S+/g)].map((m) => m.index! + m[0].length);
    for (const l of lines.slice(1)) expect(ends(l)).toEqual(ends(lines[0]));
    // 4 significant digits at most
    for (const l of lines.slice(1)) for (const cell of l.trim().split(/\s+/)) expect(cell.replace(/^-?0\.0*|[.-]|e.*$/g, '').length).toBeLessThanOrEqual(4);

    const j = await sweep(['stats', doneId, '-g', 'q', '--json']);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout).groups).toHaveLength(3);
    const bad = await sweep(['stats', doneId, '-g', 'nope']);
    expect(bad.code).toBe(2);
  });

  it('export csv to a file: a header line and one line per run; ndjson to stdout', async () => {
    const file = join(dir, 'runs.csv');
    const r = await sweep(['export', doneId, '--format', 'csv', '-o', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(6 + 1);
    // which contract and core computed each row, then the axis variables and the derived parameters, then the fields' one names
    expect(lines[0]).toMatch(/^index,run_id,status,contract,core_version,q,D,rewards\.0\.center,rewards\.1\.center,summary\.converged,/);
    expect(existsSync(`${file}.part`)).toBe(false);
    const n = await sweep(['export', doneId, '--format', 'ndjson']);
    expect(n.code).toBe(0);
    const rows = n.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(rows).toHaveLength(6);
    expect(rows[0]).toMatchObject({ index: 0, status: 'succeeded' });
  });

  it('plot to a file: an SVG document', async () => {
    const file = join(dir, 'plot.svg');
    const r = await sweep(['plot', doneId, '--x', 'q', '--y', 'D', '--z', 'summary.basinShare.0', '-o', file]);
    expect(r.stderr).toMatch(/^wrote /);
    expect(r.code).toBe(0);
    expect(readFileSync(file, 'utf8')).toMatch(/^(<svg|<\?xml)/);
    const line = await sweep(['plot', doneId, '--x', 'D', '--z', 'summary.nashGap', '--series', 'q']);
    expect(line.code).toBe(0);
    expect(line.stdout).toMatch(/^(<svg|<\?xml)/);
    const bad = await sweep(['plot', doneId, '--x', 'nope', '-o', join(dir, 'bad.svg')]);
    expect(bad.code).toBe(2);
    expect(existsSync(join(dir, 'bad.svg'))).toBe(false);
  });
});
