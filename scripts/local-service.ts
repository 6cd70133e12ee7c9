// The service on this machine for `npm run demo` and `npm run paper`: the API and
// workers as real processes on DATABASE_URL and REDIS_URL, waited for until the API is
// ready, and stopped together.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { databaseUrl } from '@curation/db';
import { redisUrl } from '@curation/queue';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export interface LocalServiceOptions {
  /** Prefix of this script's messages ("demo", "paper"). */
  name: string;
  /** The API's port (default: a free one). */
  port?: number;
  workers?: number;
  /** Run the compiled output (the build must be current), as in production; else the sources through tsx. */
  compiled: boolean;
}

export interface LocalService {
  /** http://127.0.0.1:<port> */
  base: string;
  /** Resolves once the API answers /ready (rejects after 60 s). */
  ready: () => Promise<void>;
  /** Stops the API and the workers (SIGTERM) and waits for them to exit. */
  stop: () => Promise<void>;
}

/** Starts the API and `workers` workers (WORKER_CONCURRENCY=1 each); `ready()` waits for the API. */
export async function startLocalService(o: LocalServiceOptions): Promise<LocalService> {
  const children: ChildProcess[] = [];
  let stopping = false;
  const stop = async () => {
    stopping = true;
    await Promise.all(children.map((c) => new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    })));
  };
  const start = (name: string, app: 'api' | 'worker', env: Record<string, string>) => {
    const entry = o.compiled ? [join(root, `apps/${app}/dist/main.js`)] : ['--conditions=source', '--import', 'tsx', join(root, `apps/${app}/src/main.ts`)];
    const child = spawn(process.execPath, entry, {
      cwd: root,
      env: { ...process.env, DATABASE_URL: databaseUrl(), REDIS_URL: redisUrl(), LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('exit', (code, signal) => {
      if (!stopping && code !== 0) console.error(`${o.name}: ${name} exited (${signal ?? code})`);
    });
    children.push(child);
  };
  const port = o.port ?? await freePort();
  const base = `http://127.0.0.1:${port}`;
  start('api', 'api', { PORT: String(port), HOST: '127.0.0.1' });
  for (let i = 0; i < (o.workers ?? 2); i++) start(`worker ${i + 1}`, 'worker', { WORKER_CONCURRENCY: '1' });
  const ready = async () => {
    for (let i = 0; ; i++) {
      try { if ((await fetch(`${base}/ready`)).ok) return; } catch { /* not listening yet */ }
      if (i > 120) throw new Error('the API did not become ready within 60 s');
      await sleep(500);
    }
  };
  return { base, ready, stop };
}
