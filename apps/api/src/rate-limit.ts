// Rate limits per API key with @fastify/rate-limit, counted in Redis (the app's own
// connection) so every API instance shares the same counters. Requests without a key
// (docs, dashboard assets) are counted per client IP; /health and /ready are exempt.
// When Redis does not answer, requests are let through (skipOnError) rather than failed:
// the limit protects the service, an outage of the counter store must not take it down.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { Redis } from 'ioredis';
import { ApiError } from './errors.ts';

export interface RateLimitOptions {
  /** Requests per window per key. */
  max: number;
  /** Window length in milliseconds. */
  windowMs: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitOptions = { max: 600, windowMs: 60_000 };

const UNITS: Record<string, number> = {
  ms: 1, millisecond: 1, milliseconds: 1,
  s: 1000, sec: 1000, secs: 1000, second: 1000, seconds: 1000,
  m: 60_000, min: 60_000, mins: 60_000, minute: 60_000, minutes: 60_000,
  h: 3_600_000, hour: 3_600_000, hours: 3_600_000,
};

/** '1 minute', '30s', '500 ms', '2 hours', or a plain number of milliseconds -> milliseconds; null if unreadable. */
export function parseWindow(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!m) return null;
  const unit = m[2].toLowerCase();
  const factor = unit === '' ? 1 : UNITS[unit];
  if (factor === undefined) return null;
  const ms = Number(m[1]) * factor;
  return Number.isFinite(ms) && ms >= 1 ? Math.round(ms) : null;
}

/** 60000 -> '1 minute', 1500 -> '1.5 seconds'. */
export function windowText(ms: number): string {
  const plural = (n: number, unit: string) => `${n === 1 ? '' : `${Number(n.toPrecision(6))} `}${unit}${n === 1 ? '' : 's'}`;
  if (ms % 3_600_000 === 0) return plural(ms / 3_600_000, 'hour');
  if (ms % 60_000 === 0) return plural(ms / 60_000, 'minute');
  if (ms >= 1000) return plural(ms / 1000, 'second');
  return plural(ms, 'millisecond');
}

/** The rate-limit key: the API key's id, else the client address. */
export const rateLimitKey = (req: FastifyRequest): string => (req.auth ? `key:${req.auth.keyId}` : `ip:${req.ip}`);

/**
 * Registers the limiter on the root instance, before the routes (it attaches itself to
 * each route as it is added). Its onRequest hook runs after the instance-level auth
 * hooks, so it sees `request.auth`.
 */
export async function registerRateLimit(app: FastifyInstance, redis: Redis, prefix: string, o: RateLimitOptions): Promise<void> {
  const per = windowText(o.windowMs);
  await app.register(rateLimit, {
    global: true,
    hook: 'onRequest',
    max: o.max,
    timeWindow: o.windowMs,
    redis,
    nameSpace: `${prefix}:rate-limit:`,
    skipOnError: true,
    keyGenerator: rateLimitKey,
    errorResponseBuilder: (req, ctx) => {
      const retryAfterSeconds = Math.max(1, Math.ceil(ctx.ttl / 1000));
      const who = req.auth ? 'this API key' : 'this client address';
      return new ApiError(
        429,
        `rate limit exceeded: at most ${ctx.max} requests per ${per} for ${who}; retry after ${retryAfterSeconds} s`,
        undefined,
        { extra: { limit: ctx.max, windowSeconds: o.windowMs / 1000, retryAfterSeconds } },
      );
    },
  });
}
