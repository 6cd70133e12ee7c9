// `npm run worker`: a worker process configured from the environment
// (docs/service-design.md, "Settings"). Exits 1 with a one-line reason when it must
// not run, 0 after a graceful shutdown on SIGTERM/SIGINT.
import pg from 'pg';
import pino from 'pino';
import { assertNoEviction, createRedis } from '@curation/queue';
import { readSettings } from './settings.ts';
import { startWorker, type RunningWorker } from './worker.ts';

/**
 * At start: waits until the database answers and has the schema (the `runs` table), a
 * bounded number of attempts with a fresh connection each, then throws.
 */
async function waitForMigratedDatabase(url: string, logger: pino.Logger, attempts = 30): Promise<void> {
  // Migrations are the deployer's job (npm run db:migrate); the worker only needs an
  // answering database, which may still be starting next to it (compose, k8s).
  for (let i = 1; ; i++) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    try {
      await client.connect();
      await client.query('SELECT 1 FROM runs LIMIT 0');
      return;
    } catch (err) {
      if (i >= attempts) throw new Error(`database not ready after ${attempts} attempts: ${(err as Error).message}`);
      logger.warn({ attempt: i, err }, 'waiting for the database');
      await new Promise((r) => setTimeout(r, Math.min(500 * i, 3000)));
    } finally {
      await client.end().catch(() => {});
    }
  }
}

async function main(): Promise<void> {
  const settings = readSettings();
  const logger = pino({ level: settings.logLevel });

  let worker: RunningWorker | undefined;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    // Before the worker is up nothing is in hand (at worst a job just taken, which
    // BullMQ redelivers as stalled), so there is nothing to wait for.
    if (!worker) process.exit(0);
    worker.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  // Before anything else: on an evicting Redis, queued jobs could vanish without a trace.
  const redis = createRedis(settings.redisUrl, { lazyConnect: true });
  try {
    await redis.connect();
    await assertNoEviction(redis);
  } finally {
    redis.disconnect();
  }
  await waitForMigratedDatabase(settings.databaseUrl, logger);

  worker = await startWorker({ ...settings, logger });
}

main().catch((err: unknown) => {
  process.stderr.write(`worker: ${(err as Error).message}\n`);
  process.exit(1);
});
