// `npm run api`: settings from the environment, a check that the database schema is
// current (migrating is a deploy step of its own: npm run db:migrate), then listen;
// SIGTERM/SIGINT close the server (in-flight requests finish, the enqueuer stops after
// its chunk and is resumed by the next instance).
import pino from 'pino';
import { SchemaNotCurrentError, checkSchema } from '@curation/db';
import { assertNoEviction, createRedis } from '@curation/queue';
import { buildApp } from './app.ts';
import { readSettings } from './settings.ts';

const CLOSE_TIMEOUT_MS = 15_000;

// Replaced by one at the configured level as soon as the settings are read; until then
// only a refusal to start (such as a bad LOG_LEVEL) is logged, at the default level.
let log = pino({ level: 'info' });

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
  log = pino({ level: settings.logLevel });
  await Promise.all([checkSchema(settings.databaseUrl), checkRedisPolicy(settings.redisUrl)]);

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
  // The reason alone when it is one we wrote for the operator (settings, schema).
  log.fatal(err instanceof SchemaNotCurrentError ? { reason: err.message } : { err }, 'api failed to start');
  process.exit(1);
});
