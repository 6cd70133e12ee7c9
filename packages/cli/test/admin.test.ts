// `sweep admin`: teams and keys in the database, spawned as an operator would run it
// (against a fresh database, which `sweep admin migrate` creates and migrates).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { findKeyByPlaintext, readMigrations, withDatabase } from '@curation/db';
import { getServices, uniqueName } from '../../../test/support/services.ts';
import { runSweep, type ProcessResult as Result } from '../../../test/support/run-process.ts';



let url = '';
let adminUrl = '';
let pool: pg.Pool | undefined;

function sweep(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return runSweep(['admin', ...args], { env: { ...process.env, DATABASE_URL: url, DEFAULT_TEAM_BUDGET_SECONDS: '', ...env } });
}

beforeAll(async () => {
  const { postgresUrl } = await getServices();
  adminUrl = withDatabase(postgresUrl, 'postgres');
  // Not created here: `sweep admin migrate` creates and migrates it.
  url = withDatabase(postgresUrl, uniqueName('admin'));
});

afterAll(async () => {
  await pool?.end();
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${new URL(url).pathname.slice(1)}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
});

describe('sweep admin', () => {
  it('migrate creates and migrates a new database; the other commands only check, and say which command migrates', async () => {
    const migrations = readMigrations().map((m) => m.name);
    const first = await sweep(['migrate']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(`applied ${migrations.length} migration(s) (${migrations.join(', ')}), 0 already applied\n`);
    const last = migrations.at(-1)!;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE migration_name = $1', [last]);
      const refused = await sweep(['list-teams']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe(
        `error: the database schema is not current: 1 migration not applied (${last}); apply the migrations first with ` +
        '`npm run db:migrate` (or `sweep admin migrate`, or the compose service `migrate`)\n',
      );
    } finally {
      await client.query('UPDATE "_prisma_migrations" SET rolled_back_at = NULL WHERE migration_name = $1', [last]).finally(() => client.end());
    }
    const again = await sweep(['migrate']);
    expect(again.stdout).toBe(`applied 0 migration(s), ${migrations.length} already applied\n`);
    expect((await sweep(['list-teams'])).code).toBe(0);
  });

  it('create-team; a duplicate name is exit 4', async () => {
    const r = await sweep(['create-team', 'physics', '--budget', '3600']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^team physics created: id [0-9a-f-]{36}, compute budget 3600 s\n$/);
    const dup = await sweep(['create-team', 'physics']);
    expect(dup.code).toBe(4);
    expect(dup.stderr).toBe('error: a team named "physics" already exists\n');
    const env = await sweep(['create-team', 'chemistry', '--json'], { DEFAULT_TEAM_BUDGET_SECONDS: '120' });
    expect(env.code).toBe(0);
    expect(JSON.parse(env.stdout)).toMatchObject({ name: 'chemistry', computeBudgetSeconds: 120 });
    const bad = await sweep(['create-team', 'biology', '--budget', 'lots']);
    expect(bad.code).toBe(2);
  });

  it('create-key prints the key once (stdout) with a warning (stderr); the database keeps only its hash', async () => {
    const r = await sweep(['create-key', 'physics', '--name', 'laptop']);
    expect(r.code).toBe(0);
    const key = r.stdout.trim();
    expect(key).toMatch(/^cs_[A-Za-z0-9_-]{43}$/);
    expect(r.stderr).toMatch(/only time it is shown/);
    pool = new pg.Pool({ connectionString: url, max: 2 });
    const found = await findKeyByPlaintext(pool, key);
    expect(found).toMatchObject({ teamName: 'physics', role: 'member' });
    const dump = await pool.query('SELECT row_to_json(k)::text AS row FROM api_keys k');
    expect(dump.rows.some((x) => x.row.includes(key))).toBe(false);

    const adminKey = await sweep(['create-key', 'physics', '--admin', '--json']);
    expect(JSON.parse(adminKey.stdout)).toMatchObject({ role: 'admin', team: 'physics', key: expect.stringMatching(/^cs_/) });

    const unknown = await sweep(['create-key', 'nobody']);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toBe('error: no team "nobody" (see: sweep admin list-teams)\n');
  });

  it('list-keys, revoke-key, list-teams', async () => {
    const list = await sweep(['list-keys', 'physics']);
    expect(list.code).toBe(0);
    const lines = list.stdout.trimEnd().split('\n');
    expect(lines[0].split(/\s{2,}/)).toEqual(['ID', 'NAME', 'PREFIX', 'ROLE', 'CREATED', 'LAST USED', 'REVOKED']);
    expect(lines).toHaveLength(3);
    expect(list.stdout).not.toMatch(/cs_[A-Za-z0-9_-]{43}/);

    const keys = JSON.parse((await sweep(['list-keys', 'physics', '--json'])).stdout);
    const laptop = keys.find((k: { name: string }) => k.name === 'laptop');
    const revoke = await sweep(['revoke-key', laptop.id]);
    expect(revoke.code).toBe(0);
    const after = JSON.parse((await sweep(['list-keys', 'physics', '--json'])).stdout);
    expect(after.find((k: { id: string }) => k.id === laptop.id).revokedAt).not.toBeNull();
    expect((await sweep(['revoke-key', '00000000-0000-4000-8000-000000000000'])).code).toBe(3);
    expect((await sweep(['list-keys', 'nobody'])).code).toBe(3);

    const teams = await sweep(['list-teams']);
    expect(teams.code).toBe(0);
    expect(teams.stdout).toMatch(/^NAME\s+ID\s+KEYS\s+SWEEPS\s+BUDGET USED\s+BUDGET\n/);
    expect(teams.stdout).toMatch(/\nchemistry\s+\S+\s+0\s+0\s+0 s\s+120 s\n/);
    expect(teams.stdout).toMatch(/\nphysics\s+\S+\s+1\s+0\s+0 s\s+3600 s\n/);
  });

  it('an unreachable database: exit 5, one line', async () => {
    const r = await sweep(['list-teams', '--database-url', 'postgresql://postgres@127.0.0.1:1/nowhere']);
    expect(r.code).toBe(5);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
