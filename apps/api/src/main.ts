// `npm run api`: settings from the environment, migrations, then listen; SIGTERM/SIGINT
// close the server (in-flight requests finish, the enqueuer stops after its chunk and is
// resumed by the next instance).
import pino from 'pino';
import { migrate } from '@curation/db';
import { assertNoEviction, createRedis } from '@curation/queue';
import { buildApp } from './app.ts';
import { readSettings } from './settings.ts';

const CLOSE_TIMEOUT_MS = 15_000;

const log = pino({ level: process.env.LOG_LEVEL || 'info' });

async function checkRedisPolicy(url: string): Promise<void> {
  const redis = createRedis(url, { lazyConnect: true });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await assertNoEviction(redis);
  } catch (err) {
    // Only an evicting Redis is fatal; an unreachable one shows up in /ready.
    if (/maxmemory-policy/.test((err as Error).message)) throw err;
    log.warn({ err }, 'could not check the Redis eviction policy');
  } finally {
    redis.disconnect();
  }
}

async function main(): Promise<void> {
  const settings = readSettings();
  const { applied } = await migrate(settings.databaseUrl);
  if (applied.length) log.info({ applied }, 'migrations applied');
  await checkRedisPolicy(settings.redisUrl);

  const app = await buildApp({
    databaseUrl: settings.databaseUrl,
    redisUrl: settings.redisUrl,
    prefix: settings.prefix,
    limits: settings.limits,
    bodyLimit: settings.bodyLimit,
    rateLimit: settings.rateLimit,
    docsRequireAuth: settings.docsRequireAuth,
    metricsPublic: settings.metricsPublic,
    trustProxy: settings.trustProxy,
    logger: log,
  });
  await app.listen({ host: settings.host, port: settings.port });

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      log.error('close timed out; exiting');
      process.exit(1);
    }, CLOSE_TIMEOUT_MS);
    force.unref();
    app.close().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'close failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err) => {
  log.fatal({ err }, 'api failed to start');
  process.exit(1);
});
