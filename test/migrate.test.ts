import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { SchemaNotCurrentError, checkSchema, ensureDatabase, migrate, readMigrations, withDatabase } from '@curation/db';
import { createTestDatabase, getServices, uniqueName, type TestDatabase } from './support/services.ts';

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
      expect(tables.rows.map((r) => r.tablename)).toEqual(['_prisma_migrations', 'api_keys', 'reconciler_lease', 'results', 'run_stats', 'run_stats_lines', 'runs', 'sweep_run_counts', 'sweeps', 'team_readers', 'teams', 'workers']);
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

describe('the schema check at start (migrations are a deploy step)', () => {
  let url: string;
  let adminUrl: string;
  beforeAll(async () => {
    const { postgresUrl } = await getServices();
    adminUrl = withDatabase(postgresUrl, 'postgres');
    url = withDatabase(postgresUrl, uniqueName('schema'));
    await ensureDatabase(url);
  });
  afterAll(async () => {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${new URL(url).pathname.slice(1)}" WITH (FORCE)`).finally(() => admin.end());
  });

  const names = readMigrations().map((m) => m.name);
  const sql = async (text: string, values: unknown[] = []) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(text, values);
    } finally {
      await client.end();
    }
  };

  it('the API refuses to start on an empty database, naming every missing migration and the command, and creates nothing', async () => {
    const { code, stderr, stdout } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const p = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'apps/api/src/main.ts'], {
        env: { ...process.env, DATABASE_URL: url, PORT: '0', LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      p.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
      p.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
      p.on('error', reject);
      p.on('close', (c) => resolve({ code: c, stdout: out, stderr: err }));
    });
    expect(stderr).toBe('');
    expect(code).toBe(1);
    const line = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(line.msg).toBe('api failed to start');
    expect(line.reason).toBe(
      `the database schema is not current: ${names.length} migrations not applied (${names.join(', ')}); apply the migrations ` +
      'first with `npm run db:migrate` (or `sweep admin migrate`, or the compose service `migrate`)',
    );
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const tables = await client.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").finally(() => client.end());
    expect(tables.rows).toEqual([]);
  }, 60_000);

  it('passes once migrated, also with a migration only a newer release knows; refuses one missing or changed', async () => {
    await migrate(url);
    await expect(checkSchema(url)).resolves.toBeUndefined();
    await sql(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
       VALUES ('00000000-0000-4000-8000-000000000000', $1, '29991231000000_from_a_newer_release', now(), now(), 1)`,
      ['f'.repeat(64)],
    );
    await expect(checkSchema(url)).resolves.toBeUndefined();

    const last = names.at(-1)!;
    await sql('UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE migration_name = $1', [last]);
    const missing = await checkSchema(url).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(SchemaNotCurrentError);
    expect((missing as SchemaNotCurrentError).pending).toEqual([last]);
    expect((missing as Error).message).toMatch(new RegExp(`^the database schema is not current: 1 migration not applied \\(${last}\\); apply`));

    await sql('UPDATE "_prisma_migrations" SET rolled_back_at = NULL WHERE migration_name = $1', [last]);
    await sql('UPDATE "_prisma_migrations" SET checksum = $2 WHERE migration_name = $1', [names[0], '0'.repeat(64)]);
    const changed = await checkSchema(url).catch((e: unknown) => e) as SchemaNotCurrentError;
    expect(changed.changed).toEqual([names[0]]);
    expect(changed.pending).toEqual([]);
  });
});
