// `npm run demo` on a fresh clone: install what is missing, build (`npm run build`,
// incremental: about a second when nothing changed), make sure Postgres and Redis answer
// (starting the local ones when this machine has them), then hand over to scripts/demo.ts,
// which runs a real sweep end to end with the compiled API and workers.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args, opts = {}) => spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });

if (!existsSync(join(root, 'node_modules/tsx')) || !existsSync(join(root, 'node_modules/.package-lock.json'))) {
  console.log('demo: installing dependencies (npm ci)');
  if (run('npm', ['ci', '--no-audit', '--no-fund']).status !== 0) process.exit(1);
}

function reachable(url, defaultPort) {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = net.connect({ host: u.hostname || '127.0.0.1', port: Number(u.port || defaultPort) });
    s.setTimeout(1000);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
    s.once('timeout', () => { s.destroy(); resolve(false); });
  });
}
const isLocal = (url) => ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(new URL(url).hostname);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function ensureService(name, url, port, start) {
  if (await reachable(url, port)) return;
  if (isLocal(url) && start()) {
    for (let i = 0; i < 30 && !(await reachable(url, port)); i++) await sleep(500);
    if (await reachable(url, port)) return;
  }
  console.error(`demo: ${name} is not reachable at ${url}. Start it (for example \`docker compose up -d postgres redis\`) or set ${name === 'Postgres' ? 'DATABASE_URL' : 'REDIS_URL'}.`);
  process.exit(1);
}
const has = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;

await ensureService('Postgres', process.env.DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/curation', 5432, () =>
  has('pg_ctlcluster') && run('sh', ['-c', 'pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start']).status === 0);
await ensureService('Redis', process.env.REDIS_URL || 'redis://127.0.0.1:6379', 6379, () =>
  has('redis-server') && run('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', '6379', '--save', '', '--appendonly', 'no']).status === 0);

if (run(process.execPath, [join(root, 'scripts/build.mjs')]).status !== 0) process.exit(1);
const demo = run(process.execPath, ['--import', 'tsx', join(root, 'scripts/demo.ts'), ...process.argv.slice(2)]);
process.exit(demo.status ?? 1);
