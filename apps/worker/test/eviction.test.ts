import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRedis } from '../../../test/support/services.ts';
import { startWorker } from '../src/worker.ts';
import { silentLogger, waitFor } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

// A throwaway Redis that may evict keys; the shared test Redis is never reconfigured.
describe('eviction policy check', () => {
  let redis: ChildProcess;
  let url: string;

  beforeAll(async () => {
    const port = await freePort();
    url = `redis://127.0.0.1:${port}`;
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--maxmemory-policy', 'allkeys-lru', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await waitFor('throwaway redis', () => new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
      s.on('error', () => resolve(false));
    }), 10_000, 50);
  });

  afterAll(() => {
    redis?.kill('SIGTERM');
  });

  it('npm run worker refuses to start, exit code 1 and a clear message', async () => {
    const { prefix } = await createTestRedis();
    const child = spawn(process.execPath, ['--import', 'tsx', 'apps/worker/src/main.ts'], {
      cwd: ROOT,
      env: { ...process.env, REDIS_URL: url, QUEUE_PREFIX: prefix, DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none', LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => { stderr += d; });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toMatch(/maxmemory-policy is "allkeys-lru".*noeviction/);
  });

  it('startWorker refuses too', async () => {
    await expect(startWorker({ databaseUrl: 'postgresql://nobody@127.0.0.1:1/none', redisUrl: url, prefix: 'x', logger: silentLogger() }))
      .rejects.toThrow(/maxmemory-policy is "allkeys-lru"/);
  });
});
