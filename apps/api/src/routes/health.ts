// Liveness (the process answers) and readiness (Postgres and Redis answer within ~1 s).
import type { FastifyPluginAsync, RawServerDefault } from 'fastify';
import type { TypeBoxProvider } from '../type-provider.ts';
import type { Deps } from '../deps.ts';
import { HealthReply, ReadyReply } from '../schemas.ts';
import { redisReady } from '../redis-ready.ts';

const CHECK_TIMEOUT_MS = 1000;

async function probe(check: () => Promise<unknown>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([check(), timeout]);
    return 'ok';
  } catch (err) {
    const e = err as Error & { code?: string };
    return e.message || e.code || String(err);
  } finally {
    clearTimeout(timer);
  }
}

export const healthRoutes: FastifyPluginAsync<Deps & { hide?: boolean }, RawServerDefault, TypeBoxProvider> = async (app, deps) => {
  const hide = deps.hide ?? false;

  // No key and no rate limit: load balancers and orchestrators probe these.
  const config = { authPublic: true, rateLimit: false } as const;

  app.get('/health', {
    config,
    schema: { tags: ['health'], summary: 'The process is up', hide, security: [], response: { 200: HealthReply } },
  }, async () => ({ status: 'ok' as const }));

  app.get('/ready', {
    config,
    schema: {
      security: [],
      tags: ['health'],
      summary: 'Postgres and Redis are reachable (503 naming the one that is not)',
      hide,
      response: { 200: ReadyReply, 503: ReadyReply },
    },
  }, async (_request, reply) => {
    const [postgres, redis] = await Promise.all([
      probe(() => deps.pool.query('SELECT 1')),
      probe(async () => {
        await redisReady(deps.redis, CHECK_TIMEOUT_MS);
        return deps.redis.ping();
      }),
    ]);
    const ok = postgres === 'ok' && redis === 'ok';
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'unavailable', postgres, redis });
  });
};
