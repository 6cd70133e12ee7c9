// The demo: applies migrations, uses one team named `demo` (created on the first run) with
// a key of its own, starts the API (on PORT, else a free port) and two workers as real
// processes, submits examples/q-vs-D.yaml (q x D on the paper's C.4 geometry), shows
// progress and prints the phase table of the limit share of the basin of reward 1, then says where to
// go next. The key is revoked at the end; `--keep` leaves the API and workers running
// (and the key valid) to explore.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import { createKey, createPool, createTeam, databaseUrl, findTeam, migrate, revokeKey } from '@curation/db';
import { freePort, startLocalService, type LocalService } from './local-service.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
const TEAM = 'demo';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let service: LocalService | undefined;
const stopAll = async () => { await service?.stop(); };
process.on('SIGINT', () => { void stopAll().then(revokeDemoKey).finally(() => process.exit(130)); });

/** The demo team's key: every /v1 route needs `Authorization: Bearer <key>`. */
let apiKey = '';
let apiKeyId = '';

/** PORT when set (as for `npm run api`), else a free port. */
async function apiPort(): Promise<number> {
  const env = process.env.PORT;
  if (env === undefined || env === '') return freePort();
  const port = Number(env);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`PORT=${env} is not a port number (1-65535)`);
  return port;
}

/** Revokes the demo's key: the next run makes a new one, and nothing usable is left behind. */
async function revokeDemoKey(): Promise<void> {
  if (!apiKeyId) return;
  const pool = createPool(databaseUrl(), 1);
  try {
    await revokeKey(pool, apiKeyId);
  } finally {
    await pool.end();
  }
}

async function api<T>(base: string, path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(base + path, { ...init, headers: { ...init?.headers as Record<string, string>, authorization: `Bearer ${apiKey}` } });
  const body = await res.json();
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${path}: ${res.status} ${JSON.stringify(body)}`);
  return body as T;
}

interface SweepView {
  id: string; status: string; etaSeconds: number | null;
  counts: { total: number; queued: number; running: number; succeeded: number; failed: number; cancelled: number };
}
interface RunView { index: number; params: Record<string, number>; status: string; summary: { basinShare: (number | null)[]; nashGap: number | null; collapsed: boolean; convergedAt: number | null } | null }

async function main() {
  const dbUrl = databaseUrl();
  await migrate(dbUrl);
  const pool = createPool(dbUrl, 1);
  try {
    const team = (await findTeam(pool, TEAM)) ?? (await createTeam(pool, TEAM));
    const created = await createKey(pool, team.id, { name: 'npm run demo' });
    apiKey = created.key;
    apiKeyId = created.info.id;
  } finally {
    await pool.end();
  }
  // The API and workers run compiled (scripts/demo.mjs builds first), as in production.
  service = await startLocalService({ name: 'demo', port: await apiPort(), compiled: true });
  const base = service.base;
  await service.ready();
  console.log(`API at ${base} (OpenAPI docs at ${base}/docs), 2 workers; team ${TEAM}\n`);

  const spec = readFileSync(join(root, 'examples/q-vs-D.yaml'), 'utf8');
  const created = await api<{ id: string; total: number }>(base, '/v1/sweeps', {
    method: 'POST', headers: { 'content-type': 'application/yaml' }, body: spec,
  });
  console.log(`submitted sweep ${created.id}: ${created.total} configurations (examples/q-vs-D.yaml)`);

  const bar = new cliProgress.SingleBar({
    format: ' {bar} {percentage}% | {value}/{total} runs | running {running} | failed {failed} | ETA {eta_s}s',
    // Also print progress when the output is a log or a pipe (CI, `| tee`).
    noTTYOutput: true,
    notTTYSchedule: 1000,
  }, cliProgress.Presets.shades_classic);
  bar.start(created.total, 0, { running: 0, failed: 0, eta_s: '?' });
  let sweep: SweepView;
  for (;;) {
    sweep = await api<SweepView>(base, `/v1/sweeps/${created.id}`);
    const c = sweep.counts;
    bar.update(c.succeeded + c.failed + c.cancelled, { running: c.running, failed: c.failed, eta_s: sweep.etaSeconds === null ? '?' : Math.round(sweep.etaSeconds) });
    if (['succeeded', 'failed', 'cancelled'].includes(sweep.status)) break;
    await sleep(300);
  }
  bar.stop();
  console.log(`sweep ${sweep.status}\n`);

  const runs: RunView[] = [];
  let cursor: string | null = null;
  do {
    const page: { items: RunView[]; nextCursor: string | null } =
      await api(base, `/v1/sweeps/${created.id}/runs?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    runs.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);

  const qs = [...new Set(runs.map((r) => r.params.q))].sort((a, b) => a - b);
  const Ds = [...new Set(runs.map((r) => r.params.D))].sort((a, b) => a - b);
  const cell = (q: number, D: number) => runs.find((r) => r.params.q === q && r.params.D === D);
  const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '   -  ' : v.toFixed(3).padStart(6));
  console.log('limit share of the basin of reward 1 (theory: approaches q as D grows); * = collapsed');
  console.log(`   q \\ D ${Ds.map((d) => d.toFixed(1).padStart(7)).join('')}`);
  for (const q of qs) {
    console.log(`   ${q.toFixed(2).padStart(5)} ${Ds.map((D) => {
      const s = cell(q, D)?.summary;
      return ` ${fmt(s?.basinShare[0])}${s?.collapsed ? '*' : ' '}`;
    }).join('')}`);
  }
  console.log('\nNash gap (0 = exactly the predicted bargaining allocation)');
  for (const q of qs) {
    console.log(`   ${q.toFixed(2).padStart(5)} ${Ds.map((D) => ` ${fmt(cell(q, D)?.summary?.nashGap)} `).join('')}`);
  }
  const short = created.id.slice(0, 8);
  if (keep) {
    console.log('\nThe API and the workers keep running (--keep); Ctrl-C stops them. Next:');
    console.log(`  open ${base}/ (the dashboard) and enter the demo team's key, shown only now:`);
    console.log(`    ${apiKey}`);
    console.log(`  export SWEEP_API=${base} SWEEP_API_KEY=${apiKey}`);
    console.log(`  npx sweep status ${short}                                   # this sweep`);
    console.log(`  npx sweep stats ${short} --group-by q,D --metric summary.basinShare.0`);
    console.log('  README.md, "Worked example", goes on from here (plot, export, the HTTP API).');
    return;
  }
  console.log('\nNext:');
  console.log('  npm run demo -- --keep    the same, then the API, the workers and the dashboard stay up to explore');
  console.log('  README.md, "Run a sweep"  a service of your own: a team, a key, `sweep submit`, `sweep stats`');
  await stopAll();
  await revokeDemoKey();
}

main().catch(async (err) => {
  console.error(`demo failed: ${(err as Error).message}`);
  await stopAll();
  await revokeDemoKey().catch(() => {});
  process.exit(1);
});
