// `npm run paper [-- options of sweep paper]`: the paper kit through the sweep service.
// With --api, SWEEP_API or SWEEP_API_KEY set it uses that service, as `sweep paper` does;
// with --in-process it needs no service. Otherwise it starts one here, as the demo does:
// migrations, a team of its own (paper-<timestamp>) with a key, the API and two workers
// as real processes, stopped again at the end.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { createKey, createPool, createTeam, databaseUrl, migrate } from '@curation/db';
import { redisUrl } from '@curation/queue';
import { registerPaper } from '../packages/cli/src/commands/paper.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

const children: ChildProcess[] = [];
function start(name: string, file: string, env: Record<string, string>): void {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', join(root, file)], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: databaseUrl(), REDIS_URL: redisUrl(), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  child.on('exit', (code, signal) => {
    if (!stopping && code !== 0) console.error(`paper: ${name} exited (${signal ?? code})`);
  });
  children.push(child);
}
let stopping = false;
async function stopAll(): Promise<void> {
  stopping = true;
  await Promise.all(children.map((c) => new Promise<void>((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve();
    c.once('exit', () => resolve());
    c.kill('SIGTERM');
  })));
}
process.on('SIGINT', () => { void stopAll().then(() => process.exit(130)); });

async function startService(): Promise<void> {
  const url = databaseUrl();
  await migrate(url);
  const pool = createPool(url, 1);
  try {
    const team = await createTeam(pool, `paper-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    process.env.SWEEP_API_KEY = (await createKey(pool, team.id, { name: 'paper' })).key;
  } finally {
    await pool.end();
  }
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  start('api', 'apps/api/src/main.ts', { PORT: String(port), HOST: '127.0.0.1' });
  for (let i = 0; i < 2; i++) start(`worker ${i + 1}`, 'apps/worker/src/main.ts', { WORKER_CONCURRENCY: '1' });
  for (let i = 0; ; i++) {
    try { if ((await fetch(`${base}/ready`)).ok) break; } catch { /* not listening yet */ }
    if (i > 120) throw new Error('the API did not become ready within 60 s');
    await sleep(500);
  }
  process.env.SWEEP_API = base;
  console.error(`paper: started the API at ${base} and 2 workers (team of its own)`);
}

const ownService = !args.includes('--in-process') && !args.includes('--from') && !args.some((a) => a === '--api' || a.startsWith('--api=')) &&
  !process.env.SWEEP_API && !process.env.SWEEP_API_KEY && !args.includes('-h') && !args.includes('--help');
try {
  if (ownService) await startService();
  const program = new Command('npm run paper --').exitOverride();
  registerPaper(program);
  await program.parseAsync(['paper', ...args], { from: 'user' });
} catch (err) {
  if ((err as { code?: string }).code !== 'commander.helpDisplayed') {
    console.error(`paper failed: ${(err as Error).message}`);
    process.exitCode = 1;
  }
} finally {
  await stopAll();
}
