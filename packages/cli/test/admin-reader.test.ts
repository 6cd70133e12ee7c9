// `sweep admin create-reader TEAM`: a read-only Postgres role for one team, as an operator
// runs it; the connection string it prints is what an analyst's notebook uses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { dropReader, withDatabase } from '@curation/db';
import { getServices, uniqueName } from '../../../test/support/services.ts';
import { runSweep, type ProcessResult as Result } from '../../../test/support/run-process.ts';



let url = '';
let adminUrl = '';
let pool: pg.Pool | undefined;
const roles: string[] = [];

function sweep(args: string[]): Promise<Result> {
  return runSweep(['admin', ...args], { env: { ...process.env, DATABASE_URL: url, DEFAULT_TEAM_BUDGET_SECONDS: '' } });
}

beforeAll(async () => {
  const { postgresUrl } = await getServices();
  adminUrl = withDatabase(postgresUrl, 'postgres');
  url = withDatabase(postgresUrl, uniqueName('reader'));
  // Migrating is the deploy step; the other admin commands only check the schema.
  expect((await sweep(['migrate'])).code).toBe(0);
  expect((await sweep(['create-team', 'optics'])).code).toBe(0);
  expect((await sweep(['create-team', 'acoustics'])).code).toBe(0);
  pool = new pg.Pool({ connectionString: url, max: 2 });
  for (const [team, name] of [['optics', 'lens sweep'], ['acoustics', 'drum sweep']]) {
    const id = randomUUID();
    await pool.query(
      `INSERT INTO sweeps (id, name, tags, spec, total, status, enqueued, core_version, team_id)
       SELECT $1, $2, '{}', '{}', 1, 'queued', 1, '2.0.0', id FROM teams WHERE name = $3`,
      [id, name, team],
    );
    await pool.query(`INSERT INTO runs (sweep_id, index, params) VALUES ($1, 0, '{"q": 0.5}')`, [id]);
  }
});

afterAll(async () => {
  for (const r of roles) if (pool) await dropReader(pool, r).catch(() => {});
  await pool?.end();
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${new URL(url).pathname.slice(1)}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
});

describe('sweep admin create-reader', () => {
  it('prints a connection string (stdout) that reads only the team\'s rows through the views', async () => {
    const r = await sweep(['create-reader', 'optics']);
    expect(r.code).toBe(0);
    const conn = r.stdout.trim();
    const u = new URL(conn);
    roles.push(decodeURIComponent(u.username));
    expect(u.username).toMatch(/^optics_reader_[0-9a-f]{6}$/);
    expect(u.password.length).toBeGreaterThanOrEqual(32);
    const server = new URL(url);
    expect({ host: u.hostname, port: u.port || '5432', db: u.pathname }).toEqual({ host: server.hostname, port: server.port || '5432', db: server.pathname });
    expect(r.stderr).toMatch(/read-only role optics_reader_[0-9a-f]{6} for team optics created/);
    expect(r.stderr).toMatch(/shown only this once/);
    // Postgres keeps a SCRAM verifier, never the password.
    const stored = await pool!.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [decodeURIComponent(u.username)]);
    expect(stored.rows[0].rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
    expect(stored.rows[0].rolpassword).not.toContain(decodeURIComponent(u.password));

    const reader = new pg.Client({ connectionString: conn });
    await reader.connect();
    try {
      const { rows } = await reader.query('SELECT sweep_name, team_name, params FROM analyst.runs_v1');
      expect(rows).toEqual([{ sweep_name: 'lens sweep', team_name: 'optics', params: { q: 0.5 } }]);
      expect((await reader.query('SELECT sweep_name FROM analyst.sweeps_v1')).rows).toEqual([{ sweep_name: 'lens sweep' }]);
      const write = await reader.query(`UPDATE sweeps SET name = 'x'`).then(() => 'ok', (err) => err.code);
      expect(write).toBe('25006'); // read-only transaction (and, in a read-write one, no privilege)
    } finally {
      await reader.end();
    }
  });

  it('--role and --json; a taken role name is exit 4, a bad one exit 2, an unknown team exit 3', async () => {
    const role = uniqueName('analyst');
    const r = await sweep(['create-reader', 'acoustics', '--role', role, '--json']);
    expect(r.code).toBe(0);
    roles.push(role);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ role, team: 'acoustics', connectionString: expect.stringMatching(/^postgresql:\/\//) });

    const dup = await sweep(['create-reader', 'acoustics', '--role', role]);
    expect(dup.code).toBe(4);
    expect(dup.stderr).toBe(`error: a role named "${role}" already exists on this server\n`);
    expect((await sweep(['create-reader', 'acoustics', '--role', 'Robert"; DROP TABLE runs'])).code).toBe(2);
    expect((await sweep(['create-reader', 'nobody'])).code).toBe(3);

    const list = await sweep(['list-readers', 'acoustics']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ROLE\s+TEAM\s+CREATED\n/);
    expect(list.stdout).toContain(`${role}  acoustics`);
    expect(list.stdout).not.toMatch(/optics_reader/);

    const drop = await sweep(['drop-reader', role]);
    expect(drop.code).toBe(0);
    expect((await pool!.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount).toBe(0);
    expect((await sweep(['drop-reader', role])).code).toBe(3);
  });
});
