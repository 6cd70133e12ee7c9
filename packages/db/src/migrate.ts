// Applies prisma/migrations/*/migration.sql in order and records each in Prisma's own
// `_prisma_migrations` table, so `prisma migrate deploy` (where its native engine can be
// fetched) sees the same history. We need our own applier because Prisma 7's migrate
// needs a schema engine binary that cannot be downloaded offline (prisma/orm#27403).
// Migrating is a deploy step of its own (docs/service-design.md, "Migrations"); the
// services only check at start that it was done (checkSchema).
import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { databaseName, withDatabase } from './env.ts';

export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../../prisma/migrations');

// Prisma's DDL for its bookkeeping table, verbatim.
const PRISMA_MIGRATIONS_DDL = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

// Any constant works; it only serialises concurrent appliers (two deploys, or a deploy and `sweep admin migrate`).
const ADVISORY_LOCK_KEY = 72_707_369;

export interface Migration { name: string; sql: string; checksum: string }

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'migration.sql')))
    .map((e) => e.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

/** Creates the database named in `url` when it does not exist (connecting to `postgres`). */
export async function ensureDatabase(url: string): Promise<boolean> {
  const name = databaseName(url);
  const admin = new pg.Client({ connectionString: withDatabase(url, 'postgres') });
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    return true;
  } catch (err) {
    // Two processes may race to create it; the loser sees duplicate_database.
    if ((err as { code?: string }).code === '42P04') return false;
    throw err;
  } finally {
    await admin.end();
  }
}

export interface MigrateResult { applied: string[]; alreadyApplied: string[] }

export async function migrate(url: string, opts: { createDatabase?: boolean; dir?: string } = {}): Promise<MigrateResult> {
  if (opts.createDatabase !== false) await ensureDatabase(url);
  const migrations = readMigrations(opts.dir);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const applied: string[] = [];
  const alreadyApplied: string[] = [];
  try {
    // pg, not Prisma: a session-level advisory lock held across the migrations' transactions (docs/service-design.md, "Hot paths on pg").
    await client.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCK_KEY]);
    await client.query(PRISMA_MIGRATIONS_DDL);
    const { rows } = await client.query<{ migration_name: string; checksum: string }>(
      'SELECT migration_name, checksum FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
    );
    const done = new Map(rows.map((r) => [r.migration_name, r.checksum]));
    for (const m of migrations) {
      const prior = done.get(m.name);
      if (prior !== undefined) {
        if (prior !== m.checksum) {
          throw new Error(`migration ${m.name} was changed after it was applied (checksum differs); add a new migration instead`);
        }
        alreadyApplied.push(m.name);
        continue;
      }
      const id = randomUUID();
      await client.query('BEGIN');
      try {
        await client.query(
          'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, now())',
          [id, m.checksum, m.name],
        );
        await client.query(m.sql);
        await client.query(
          'UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1',
          [id],
        );
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${m.name} failed: ${(err as Error).message}`);
      }
      applied.push(m.name);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCK_KEY]).catch(() => {});
    await client.end();
  }
  return { applied, alreadyApplied };
}

/** How to apply the migrations, named in every refusal to start on an old schema. */
export const MIGRATE_COMMAND = '`npm run db:migrate` (or `sweep admin migrate`, or the compose service `migrate`)';

/** A database whose schema is behind this code's migrations: the services refuse to start on it. */
export class SchemaNotCurrentError extends Error {
  readonly pending: string[];
  readonly changed: string[];
  constructor(pending: string[], changed: string[]) {
    const parts = [
      pending.length ? `${pending.length} migration${pending.length === 1 ? '' : 's'} not applied (${pending.join(', ')})` : '',
      changed.length ? `${changed.join(', ')} changed after it was applied` : '',
    ].filter(Boolean);
    super(`the database schema is not current: ${parts.join('; ')}; apply the migrations first with ${MIGRATE_COMMAND}`);
    this.name = 'SchemaNotCurrentError';
    this.pending = pending;
    this.changed = changed;
  }
}

/**
 * Compares the applied migrations with this code's, in one query, and applies nothing.
 * Migrations the database has and the code does not (a newer release migrated it) are
 * fine: migrations only add, so older code keeps working during a rolling deploy.
 * Throws SchemaNotCurrentError when one of ours is missing or was changed.
 */
export async function checkSchema(url: string, opts: { dir?: string } = {}): Promise<void> {
  const migrations = readMigrations(opts.dir);
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  let rows: { migration_name: string; checksum: string }[];
  try {
    const table = await client.query<{ t: string | null }>(`SELECT to_regclass('"_prisma_migrations"')::text AS t`);
    rows = table.rows[0].t === null ? [] : (await client.query<{ migration_name: string; checksum: string }>(
      'SELECT migration_name, checksum FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
    )).rows;
  } finally {
    await client.end().catch(() => {});
  }
  const done = new Map(rows.map((r) => [r.migration_name, r.checksum]));
  const pending = migrations.filter((m) => !done.has(m.name)).map((m) => m.name);
  const changed = migrations.filter((m) => done.has(m.name) && done.get(m.name) !== m.checksum).map((m) => m.name);
  if (pending.length || changed.length) throw new SchemaNotCurrentError(pending, changed);
}
