import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { migrate, readMigrations } from '@curation/db';
import { createTestDatabase, type TestDatabase } from './support/services.ts';

describe('migrations applier', () => {
  let db: TestDatabase;
  beforeAll(async () => { db = await createTestDatabase(); });
  afterAll(async () => { await db?.drop(); });

  it('records every migration in Prisma\'s table with its sha256 checksum, once', async () => {
    const again = await migrate(db.url);
    expect(again.applied).toEqual([]);
    const files = readMigrations();
    expect(again.alreadyApplied).toEqual(files.map((m) => m.name));
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT migration_name, checksum, finished_at, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name');
      expect(rows.map((r) => [r.migration_name, r.checksum, r.applied_steps_count])).toEqual(files.map((m) => [m.name, m.checksum, 1]));
      expect(rows.every((r) => r.finished_at instanceof Date)).toBe(true);
      const tables = await client.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename");
      expect(tables.rows.map((r) => r.tablename)).toEqual(['_prisma_migrations', 'api_keys', 'reconciler_lease', 'results', 'runs', 'sweeps', 'team_readers', 'teams', 'workers']);
    } finally {
      await client.end();
    }
  });

  it('refuses a migration edited after it was applied', async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query('UPDATE "_prisma_migrations" SET checksum = $1', ['0'.repeat(64)]);
    await client.end();
    await expect(migrate(db.url)).rejects.toThrow(/changed after it was applied/);
  });
});
