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
