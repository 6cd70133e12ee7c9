// The Fastify application: connections, body parsing, validation, error shape, access
// control and rate limits, OpenAPI docs and the /v1 routes. main.ts adds settings,
// the schema check, listening and signals.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Queue } from 'bullmq';
import { Value } from '@sinclair/typebox/value';
import type { TSchema } from '@sinclair/typebox';
import { createPool } from '@curation/db';
import { createRedis, RUNS_QUEUE } from '@curation/queue';
import { DEFAULT_LIMITS, type SweepLimits } from '@curation/sweep-spec';
import { Enqueuer } from './enqueuer.ts';
import { Refiner } from './refiner.ts';
import { errorHandler, frameworkErrorHandler, notFoundHandler } from './errors.ts';
import { registerContentParsers } from './content.ts';
import { checkRequestEdge } from './edge.ts';
import type { TypeBoxProvider } from './type-provider.ts';
import type { Deps } from './deps.ts';
import { sweepRoutes } from './routes/sweeps.ts';
import { boundaryRoutes } from './routes/boundary.ts';
import { actionRoutes } from './routes/actions.ts';
import { runRoutes } from './routes/runs.ts';
import { healthRoutes } from './routes/health.ts';
import { statsRoutes } from './routes/stats.ts';
import { exportRoutes } from './routes/export.ts';
import { plotRoutes } from './routes/plots.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { adminQueuesRoutes } from './routes/admin-queues.ts';
import { authGuard } from './auth.ts';
import { DEFAULT_RATE_LIMIT, registerRateLimit, trustProxyOption, type RateLimitOptions } from './rate-limit.ts';

export interface BuildAppOptions {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  limits?: SweepLimits;
  bodyLimit?: number;
  /** Fastify logger options, true/false, or a ready pino logger. */
  logger?: boolean | object;
  /** Indexes per background enqueue chunk (tests use small chunks). */
  enqueueChunkSize?: number;
  /** Period of the scan for half-enqueued sweeps (ms). */
  enqueueRescanMs?: number;
  /** Requests per window per API key, counted in Redis; false: no limit. Default 600 per minute. */
  rateLimit?: RateLimitOptions | false;
  /** /docs needs a key (Bearer, or Basic with the key as password). Default: open. */
  docsRequireAuth?: boolean;
  /** /metrics without a key. Default: an admin key is needed. */
  metricsPublic?: boolean;
  /** Fastify's trustProxy: whose X-Forwarded-For gives the client address (settings.ts TRUST_PROXY). Default: nobody's. */
  trustProxy?: boolean | number | string[];
}

/** The realm browsers show when they ask for the key (HTTP Basic, key as password). */
export const BASIC_REALM = 'curation-sweeps (any user name, your API key as password)';

declare module 'fastify' {
  interface FastifyInstance {
    enqueuer: Enqueuer;
    refiner: Refiner;
  }
}

export const DEFAULT_BODY_LIMIT = 10 * 1024 * 1024;

const REDIS_ERROR_LOG_MS = 30_000;

/** `log` at most once per `periodMs`; each call passes how many were left out since the last. */
function throttled<T>(periodMs: number, log: (value: T, skipped: number) => void): (value: T) => void {
  let last = -Infinity;
  let skipped = 0;
  return (value) => {
    const now = Date.now();
    if (now - last < periodMs) {
      skipped++;
      return;
    }
    log(value, skipped);
    last = now;
    skipped = 0;
  };
}

const isLoggerInstance = (l: unknown): l is FastifyServerOptions['loggerInstance'] =>
  typeof l === 'object' && l !== null && typeof (l as { child?: unknown }).child === 'function';

export async function buildApp(opts: BuildAppOptions): Promise<FastifyInstance> {
  const logger = opts.logger ?? false;
  const app = Fastify({
    ...(isLoggerInstance(logger) ? { loggerInstance: logger } : { logger: logger as boolean | object }),
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
    requestIdHeader: 'x-request-id',
    trustProxy: trustProxyOption(opts.trustProxy),
    frameworkErrors: frameworkErrorHandler,
    ajv: {
      customOptions: {
        // Never coerce or strip the body: "3" is not a number, and an unknown field is an
        // error, not something to drop silently. Query strings are converted below.
        coerceTypes: false,
        removeAdditional: false,
        useDefaults: false,
        allErrors: true,
      },
    },
  }).withTypeProvider<TypeBoxProvider>();

  const pool = createPool(opts.databaseUrl);
  // An idle connection whose server went away (restart, failover): the pool drops it and
  // the next query opens another, but the operator should know.
  pool.on('error', (err) => app.log.warn({ err }, 'postgres: an idle connection failed'));
  // Producer settings: commands fail fast instead of queueing while Redis is down.
  const redis = createRedis(opts.redisUrl);
  // ioredis reports every failed reconnect (several a second while Redis is down): the
  // first at once, then one line per period with how many were left out.
  const redisError = throttled(REDIS_ERROR_LOG_MS, (err: Error, skipped: number) =>
    app.log.warn({ err, ...(skipped ? { skipped } : {}) }, 'redis connection error'));
  redis.on('error', redisError);
  const queue = new Queue(RUNS_QUEUE, { connection: redis, prefix: opts.prefix });
  queue.on('error', redisError);
  const refiner = new Refiner({ pool, queue, log: app.log, redisUrl: opts.redisUrl, prefix: opts.prefix, rescanMs: opts.enqueueRescanMs });
  const enqueuer = new Enqueuer({
    pool, queue, redis, log: app.log, chunkSize: opts.enqueueChunkSize, rescanMs: opts.enqueueRescanMs,
    onEnqueued: (id) => refiner.kick(id),
  });
  app.decorate('enqueuer', enqueuer);
  app.decorate('refiner', refiner);
  const deps: Deps = { pool, redis, queue, enqueuer, limits: opts.limits ?? DEFAULT_LIMITS, queuePrefix: opts.prefix };

  app.addHook('onReady', async () => {
    enqueuer.start();
    refiner.start();
  });
  app.addHook('onClose', async () => {
    await enqueuer.close();
    await refiner.close();
    // Queue.close waits for the connection to be ready, which never happens while Redis is
    // down: then the queue has nothing to flush, and ending the connection is all there is.
    if (redis.status === 'ready') {
      await queue.close().catch(() => {});
      await redis.quit().catch(() => redis.disconnect());
    } else {
      void queue.close().catch(() => {});
      redis.disconnect();
    }
    await pool.end();
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // AJV does not coerce (see above), so numbers and booleans in the query string are
  // converted here, from the same TypeBox schema, before validation.
  app.addHook('preValidation', async (request) => {
    const schema = request.routeOptions.schema?.querystring as TSchema | undefined;
    if (schema && request.query) request.query = Value.Convert(schema, request.query);
  });
  app.addHook('preValidation', checkRequestEdge);

  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  registerContentParsers(app, deps.limits);

  // Before any route: the limiter attaches itself to each route as it is added.
  const rateLimit = opts.rateLimit ?? DEFAULT_RATE_LIMIT;
  const failures = rateLimit ? await registerRateLimit(app, redis, opts.prefix, rateLimit) : undefined;

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'curation-sweeps API',
        version: '1',
        description:
          'Parameter sweeps of the curated-retraining simulation. Errors are { statusCode, error, message, issues? }; ' +
          'issue paths are JSON pointers into the body, or /querystring/..., /params/..., /headers/... for the other parts.',
      },
      tags: [{ name: 'sweeps' }, { name: 'runs' }, { name: 'results' }, { name: 'health' }],
      components: {
        securitySchemes: {
          apiKey: {
            type: 'http',
            scheme: 'bearer',
            description: 'Authorization: Bearer <key>. Keys are created with `npx sweep admin create-key TEAM`.',
          },
        },
      },
      security: [{ apiKey: [] }],
    },
  });
  await app.register(async (docs) => {
    if (opts.docsRequireAuth) docs.addHook('onRequest', authGuard(pool, { basicRealm: BASIC_REALM, failures }));
    await docs.register(swaggerUi, { routePrefix: '/docs' });
  });

  await app.register(async (v1) => {
    // Every /v1 route needs a key, except those marked authPublic (health, ready).
    v1.addHook('onRequest', authGuard(pool, { failures }));
    await v1.register(sweepRoutes, deps);
    await v1.register(boundaryRoutes, deps);
    await v1.register(actionRoutes, deps);
    await v1.register(runRoutes, deps);
    await v1.register(healthRoutes, deps);
    await v1.register(statsRoutes, deps);
    await v1.register(exportRoutes, deps);
    await v1.register(plotRoutes, deps);
  }, { prefix: '/v1' });
  // Unversioned aliases for load balancers and orchestrators that probe fixed paths.
  await app.register(healthRoutes, { ...deps, hide: true });
  await app.register(metricsRoutes, { ...deps, guard: opts.metricsPublic ? null : authGuard(pool, { admin: true, basicRealm: BASIC_REALM, failures }) });
  await app.register(async (admin) => {
    // bull-board's pages and their API calls: admin keys only (Bearer, or Basic from a browser).
    admin.addHook('onRequest', authGuard(pool, { admin: true, basicRealm: BASIC_REALM, failures }));
    await admin.register(adminQueuesRoutes, deps);
  });
  // The web dashboard at / : static pages that call /v1 with the user's key.
  await app.register(dashboardRoutes);

  return app;
}
