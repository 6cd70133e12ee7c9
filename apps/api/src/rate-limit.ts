// Rate limits per API key with @fastify/rate-limit, counted in Redis (the app's own
// connection) so every API instance shares the same counters. Requests without a key
// (docs, dashboard assets) are counted per client IP; /health and /ready are exempt.
// When Redis does not answer, requests are let through (skipOnError) rather than failed:
// the limit protects the service, an outage of the counter store must not take it down.
//
// A request with an unknown key never reaches that limiter (authentication answers 401
// first), so failed authentications are counted apart, per client address: past
// `authFailures` in a window, the address's unknown keys get 429 instead of 401. A valid
// key is always served (it is looked up before the address is checked). The client
// address is the peer's unless TRUST_PROXY names proxies whose X-Forwarded-For to believe.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { Redis } from 'ioredis';
import type { AuthFailureThrottle } from './auth.ts';
import { ApiError } from './errors.ts';

export interface RateLimitOptions {
  /** Requests per window per key. */
  max: number;
  /** Window length in milliseconds. */
  windowMs: number;
  /** Requests with an unknown key per window per client address (0: not counted). */
  authFailures?: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitOptions = { max: 600, windowMs: 60_000, authFailures: 30 };
/** Addresses remembered as over the failure limit, per API instance (oldest forgotten first). */
const MAX_BLOCKED_ADDRESSES = 10_000;

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

/**
 * Fastify's trustProxy for a TRUST_PROXY setting. Fastify ignores a bare hop count (it
 * cannot tell a proxy from a client that sends the header itself), so n hops is given as
 * a function that trusts the peer and the n - 1 addresses before it: right only where
 * every request comes through those n proxies, which is what setting a count declares.
 */
export function trustProxyOption(setting: boolean | number | string[] | undefined): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof setting === 'number') {
    const hops = setting;
    return hops > 0 ? (_address, hop) => hop < hops : false;
  }
  return setting ?? false;
}

/** The rate-limit key: the API key's id, else the client address. */
export const rateLimitKey = (req: FastifyRequest): string => (req.auth ? `key:${req.auth.keyId}` : `ip:${req.ip}`);

type CountFailure = (req: FastifyRequest) => Promise<{ isExceeded: boolean; ttl: number }>;

class FailureThrottle implements AuthFailureThrottle {
  /** address -> until when its unknown keys are refused (ms); kept here so those refusals cost Redis nothing. */
  private readonly until = new Map<string, number>();

  constructor(private readonly count: CountFailure, private readonly max: number, private readonly windowMs: number) {}

  blocked(req: FastifyRequest): ApiError | undefined {
    const until = this.until.get(req.ip);
    if (until === undefined) return undefined;
    if (until <= Date.now()) {
      this.until.delete(req.ip);
      return undefined;
    }
    return this.refusal(until - Date.now());
  }

  async failed(req: FastifyRequest): Promise<ApiError | undefined> {
    const r = await this.count(req);
    if (!r.isExceeded) return undefined;
    if (this.until.size >= MAX_BLOCKED_ADDRESSES) this.until.delete(this.until.keys().next().value as string);
    this.until.set(req.ip, Date.now() + r.ttl);
    return this.refusal(r.ttl);
  }

  private refusal(ttlMs: number): ApiError {
    const retryAfterSeconds = Math.max(1, Math.ceil(ttlMs / 1000));
    return new ApiError(
      429,
      `too many requests with an unknown API key from this client address: at most ${this.max} per ${windowText(this.windowMs)}; retry after ${retryAfterSeconds} s`,
      undefined,
      { headers: { 'retry-after': String(retryAfterSeconds) }, extra: { limit: this.max, windowSeconds: this.windowMs / 1000, retryAfterSeconds } },
    );
  }
}

/**
 * Registers the limiter on the root instance, before the routes (it attaches itself to
 * each route as it is added). Its onRequest hook runs after the instance-level auth
 * hooks, so it sees `request.auth`. Returns the throttle of failed authentications
 * for the auth hooks, unless `authFailures` is 0.
 */
export async function registerRateLimit(app: FastifyInstance, redis: Redis, prefix: string, o: RateLimitOptions): Promise<AuthFailureThrottle | undefined> {
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
  const failures = o.authFailures ?? DEFAULT_RATE_LIMIT.authFailures!;
  if (failures <= 0) return undefined;
  const limit = app.createRateLimit({ max: failures, timeWindow: o.windowMs, keyGenerator: (req) => `auth-failure:${req.ip}` });
  const count: CountFailure = async (req) => {
    const r = await limit(req);
    return r.isAllowed ? { isExceeded: false, ttl: 0 } : { isExceeded: r.isExceeded, ttl: r.ttl };
  };
  return new FailureThrottle(count, failures, o.windowMs);
}
