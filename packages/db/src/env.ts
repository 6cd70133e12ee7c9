// Where the database is: one place for the default so API, worker, tests and the
// demo agree. The local default matches the machine's trust-auth Postgres.
export const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/curation';

export function databaseUrl(): string {
  return process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
}

/** The same server, another database name (used to create per-test databases). */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}

/**
 * A number setting from the environment: `fallback` when unset or blank, otherwise the
 * value, which must be finite (an integer with `integer`) and within min..max; anything
 * else throws naming the variable, what it holds and what it may hold, so a typo stops
 * the process at start instead of mid-sweep. Shared by the API's and the worker's settings.
 */
export function numberSetting(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
  o: { integer?: boolean; min?: number; max?: number } = {},
): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const v = Number(raw);
  const ok = Number.isFinite(v) && (!o.integer || Number.isInteger(v)) && (o.min === undefined || v >= o.min) && (o.max === undefined || v <= o.max);
  if (!ok) {
    const range = o.min !== undefined && o.max !== undefined ? ` from ${o.min} to ${o.max}`
      : o.min !== undefined ? ` >= ${o.min}`
      : o.max !== undefined ? ` <= ${o.max}`
      : '';
    throw new Error(`${name}=${JSON.stringify(raw)} is not ${o.integer ? 'an integer' : 'a number'}${range}`);
  }
  return v;
}
