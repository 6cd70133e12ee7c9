// API settings from the environment (docs/service-design.md, "Settings"). A malformed
// value stops start-up with a message naming the variable, rather than a silent default.
import { isIP } from 'node:net';
import { databaseUrl, numberSetting as num } from '@curation/db';
import { queuePrefix, redisUrl, workerMaxRunMemoryBytes } from '@curation/queue';
import { DEFAULT_LIMITS, DEFAULT_SIZE_LIMITS, type SweepLimits } from '@curation/sweep-spec';
import { DEFAULT_BODY_LIMIT } from './app.ts';
import { DEFAULT_RATE_LIMIT, parseWindow, type RateLimitOptions } from './rate-limit.ts';

export interface Settings {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  host: string;
  port: number;
  limits: SweepLimits;
  bodyLimit: number;
  logLevel: string;
  /** RATE_LIMIT_MAX requests per RATE_LIMIT_WINDOW per API key (0: no limit), and RATE_LIMIT_AUTH_FAILURES requests with an unknown key per client address. */
  rateLimit: RateLimitOptions | false;
  /** DOCS_REQUIRE_AUTH=1: /docs needs a key (Bearer, or Basic with the key as password). */
  docsRequireAuth: boolean;
  /** METRICS_PUBLIC=1: /metrics without a key (otherwise an admin key). */
  metricsPublic: boolean;
  /** TRUST_PROXY: whose X-Forwarded-For names the client (rate limits count per client address); false: nobody's. */
  trustProxy: boolean | number | string[];
}

type Env = Record<string, string | undefined>;

function flag(env: Env, name: string): boolean {
  const raw = (env[name] ?? '').trim().toLowerCase();
  if (raw === '' || raw === '0' || raw === 'false' || raw === 'no') return false;
  if (raw === '1' || raw === 'true' || raw === 'yes') return true;
  throw new Error(`${name}=${JSON.stringify(env[name])} is not one of 1, 0, true, false`);
}

function rateLimitOf(env: Env): RateLimitOptions | false {
  const max = num(env, 'RATE_LIMIT_MAX', DEFAULT_RATE_LIMIT.max, { integer: true, min: 0 });
  if (max === 0) return false;
  const authFailures = num(env, 'RATE_LIMIT_AUTH_FAILURES', DEFAULT_RATE_LIMIT.authFailures!, { integer: true, min: 0 });
  const raw = env.RATE_LIMIT_WINDOW;
  if (raw === undefined || raw.trim() === '') return { max, windowMs: DEFAULT_RATE_LIMIT.windowMs, authFailures };
  const windowMs = parseWindow(raw);
  if (windowMs === null) throw new Error(`RATE_LIMIT_WINDOW=${JSON.stringify(raw)} is not a duration such as "1 minute", "30s" or a number of milliseconds`);
  return { max, windowMs, authFailures };
}

// proxy-addr's names for address ranges, accepted in a TRUST_PROXY list like addresses.
const PROXY_RANGES = ['loopback', 'linklocal', 'uniquelocal'];

function cidrOk(entry: string): boolean {
  if (PROXY_RANGES.includes(entry)) return true;
  const [addr, bits, ...rest] = entry.split('/');
  const family = isIP(addr);
  if (!family || rest.length) return false;
  if (bits === undefined) return true;
  if (isIP(bits)) return family === 4 && isIP(bits) === 4;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/**
 * TRUST_PROXY: unset, false or 0: the peer's address is the client's (X-Forwarded-For is
 * ignored, since any client can send it); true: the left-most X-Forwarded-For address,
 * whoever sent it; a number n: the address n entries back from the peer (only right when
 * every request comes through n proxies); a comma-separated list of addresses, CIDR
 * ranges or loopback/linklocal/uniquelocal: the nearest address not in the list.
 */
export function parseTrustProxy(raw: string | undefined): boolean | number | string[] {
  const text = (raw ?? '').trim();
  const lower = text.toLowerCase();
  if (lower === '' || lower === 'false' || lower === 'no' || lower === '0') return false;
  if (lower === 'true' || lower === 'yes') return true;
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    if (hops > 100) throw new Error(`TRUST_PROXY=${JSON.stringify(raw)}: a hop count must be at most 100`);
    return hops;
  }
  const list = text.split(',').map((e) => e.trim()).filter(Boolean);
  const bad = list.filter((e) => !cidrOk(e));
  if (!list.length || bad.length) {
    throw new Error(
      `TRUST_PROXY=${JSON.stringify(raw)} is not true, false, a hop count or a comma-separated list of addresses and CIDR ranges ` +
      `(${bad.map((b) => JSON.stringify(b)).join(', ') || 'empty'} not understood)`,
    );
  }
  return list;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function readSettings(env: Env = process.env): Settings {
  const logLevel = env.LOG_LEVEL || 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new Error(`LOG_LEVEL=${JSON.stringify(logLevel)} is not one of ${LOG_LEVELS.join(', ')}`);
  return {
    databaseUrl: env.DATABASE_URL || databaseUrl(),
    redisUrl: env.REDIS_URL || redisUrl(),
    prefix: env.QUEUE_PREFIX || queuePrefix(),
    host: env.HOST || '127.0.0.1',
    port: num(env, 'PORT', 3000, { integer: true, min: 0, max: 65535 }),
    limits: {
      maxConfigs: num(env, 'MAX_CONFIGS_PER_SWEEP', DEFAULT_LIMITS.maxConfigs, { integer: true, min: 1 }),
      maxCostSeconds: num(env, 'MAX_COST_SECONDS', DEFAULT_LIMITS.maxCostSeconds, { min: 0 }),
      maxMemoryBytes: workerMaxRunMemoryBytes(env),
      specSize: {
        maxBytes: num(env, 'MAX_SPEC_BYTES', DEFAULT_SIZE_LIMITS.maxBytes, { integer: true, min: 1024 }),
        maxNodes: num(env, 'MAX_SPEC_NODES', DEFAULT_SIZE_LIMITS.maxNodes, { integer: true, min: 100 }),
        maxListLength: num(env, 'MAX_SPEC_LIST_LENGTH', DEFAULT_SIZE_LIMITS.maxListLength, { integer: true, min: 1 }),
        maxYamlItems: num(env, 'MAX_SPEC_YAML_ITEMS', DEFAULT_SIZE_LIMITS.maxYamlItems, { integer: true, min: 100 }),
      },
    },
    bodyLimit: num(env, 'BODY_LIMIT_BYTES', DEFAULT_BODY_LIMIT, { integer: true, min: 1024 }),
    logLevel,
    rateLimit: rateLimitOf(env),
    docsRequireAuth: flag(env, 'DOCS_REQUIRE_AUTH'),
    metricsPublic: flag(env, 'METRICS_PUBLIC'),
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
  };
}
