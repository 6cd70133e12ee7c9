// Direct SQL for analysts (docs/analyst-sql.md): the versioned views, and reader roles that
// see only their own team's rows, whichever table or view they read.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { createReader, createTeam, createKey, dropReader, scramSha256Verifier } from '@curation/db';
import { createTestDatabase, uniqueName, type TestDatabase } from './support/services.ts';

let tdb: TestDatabase;
let owner: pg.Pool;
const readers: string[] = [];
const clients: pg.Client[] = [];

// Every row of team B carries this marker somewhere in a text or jsonb column.
const SECRET_B = 'secret-of-team-b';

interface Fixture {
  teamA: string;
  teamB: string;
  sweepsA: string[];
  sweepsB: string[];
  runsA: number;
  resultShared: string;
  resultOnlyB: string;
}
let fx: Fixture;

async function insertSweep(teamId: string | null, name: string, tags: string[]): Promise<string> {
  const id = randomUUID();
  await owner.query(
    `INSERT INTO sweeps (id, name, tags, spec, total, status, enqueued, core_version, team_id)
     VALUES ($1, $2, $3, $4, 3, 'succeeded', 3, '2.0.0', $5)`,
    [id, name, tags, JSON.stringify({ name, axes: [{ param: 'q', values: [0.1, 0.5, 0.9] }] }), teamId],
  );
  return id;
}

async function insertResult(hash: string, note: string): Promise<string> {
  const { rows } = await owner.query<{ id: string }>(
    `INSERT INTO results (config_hash, core_version, git_revision, config, summary, trajectory, converged, converged_at,
                          collapsed, nash_gap, basin_share0, surviving_basins, in_interval, final_entropy, duration_ms,
                          outside_decay_rate, audit_applies, in_interval_b5, in_interval_corrected, outside_domination, final_outside)
     VALUES ($1, '2.0.0', 'abc', $2, $3, '\\x00', true, 40, false, 0.01, 0.4, 2, true, 0.69, 12,
             0.05, true, true, false, 0.001, 0.02)
     RETURNING id::text`,
    [hash, JSON.stringify({ q: 0.5, note }), JSON.stringify({ nashGap: 0.01, note })],
  );
  return rows[0].id;
}

async function insertRun(sweepId: string, index: number, q: number, resultId: string | null, extra = ''): Promise<void> {
  await owner.query(
    `INSERT INTO runs (sweep_id, index, params, status, result_id, attempts, finished_at, error)
     VALUES ($1, $2, $3, $4, $5, 1, now(), $6)`,
    [sweepId, index, JSON.stringify({ q, ...(extra ? { tag: extra } : {}) }), resultId ? 'succeeded' : 'failed', resultId, resultId ? null : `failed ${extra}`],
  );
}

/** A connection as `role` (the test server trusts local connections; production checks the password). */
async function connectAs(role: string): Promise<pg.Client> {
  const u = new URL(tdb.url);
  u.username = role;
  u.password = '';
  const c = new pg.Client({ connectionString: u.toString() });
  await c.connect();
  clients.push(c);
  return c;
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  owner = new pg.Pool({ connectionString: tdb.url, max: 2 });
  const a = await createTeam(owner, 'team-a');
  const b = await createTeam(owner, SECRET_B);
  await createKey(owner, a.id, { name: 'a' });
  await createKey(owner, b.id, { name: SECRET_B });
  await owner.query(`INSERT INTO workers (id) VALUES ('worker-1')`);

  const resultShared = await insertResult('shared', 'computed first by team b');
  const resultOnlyA = await insertResult('only-a', 'a');
  const resultOnlyB = await insertResult('only-b', SECRET_B);
  const resultNobody = await insertResult('orphan', SECRET_B);
  void resultNobody;

  const sweepsA = [await insertSweep(a.id, 'a first', ['paper']), await insertSweep(a.id, 'a second', ['paper', 'shared-tag'])];
  const sweepsB = [await insertSweep(b.id, SECRET_B, ['shared-tag']), await insertSweep(b.id, `${SECRET_B} 2`, ['paper'])];
  const legacy = await insertSweep(null, `${SECRET_B} from before teams`, ['paper']);

  await insertRun(sweepsA[0], 0, 0.1, resultShared);
  await insertRun(sweepsA[0], 1, 0.5, resultOnlyA);
  await insertRun(sweepsA[0], 2, 0.9, null, 'a');
  await insertRun(sweepsA[1], 0, 0.1, resultShared);
  await insertRun(sweepsB[0], 0, 0.1, resultShared, SECRET_B);
  await insertRun(sweepsB[0], 1, 0.5, resultOnlyB, SECRET_B);
  await insertRun(sweepsB[0], 2, 0.9, null, SECRET_B);
  await insertRun(sweepsB[1], 0, 0.5, resultOnlyB, SECRET_B);
  await insertRun(legacy, 0, 0.5, resultOnlyB, SECRET_B);

  fx = { teamA: a.id, teamB: b.id, sweepsA, sweepsB, runsA: 4, resultShared, resultOnlyB };
});

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => {});
  for (const r of readers) await dropReader(owner, r).catch(() => {});
  await owner?.end();
  await tdb?.drop();
});

async function newReader(teamId: string): Promise<string> {
  const role = uniqueName('reader');
  readers.push(role);
  await createReader(owner, teamId, { roleName: role });
  return role;
}

describe('analyst views', () => {
  it('runs_v1 has one row per run with its sweep, team, params, verdicts and summary; sweeps_v1 one per sweep', async () => {
    const { rows } = await owner.query(
      `SELECT * FROM analyst.runs_v1 WHERE sweep_id = $1 ORDER BY run_index`, [fx.sweepsA[0]],
    );
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatchObject({
      sweep_name: 'a first', sweep_tags: ['paper'], team_name: 'team-a', run_index: 0, params: { q: 0.1 },
      config: { q: 0.5, note: 'computed first by team b' }, status: 'succeeded', contract: 2, core_version: '2.0.0',
      converged: true, converged_at: 40, collapsed: false, surviving_basins: 2, nash_gap: 0.01, basin_share0: 0.4,
      final_entropy: 0.69, final_outside: 0.02, outside_decay_rate: 0.05, outside_domination: 0.001,
      audit_applies: true, in_interval: true, in_interval_b5: true, in_interval_corrected: false,
    });
    expect(rows[2]).toMatchObject({ status: 'failed', error: 'failed a', result_id: null, converged: null, summary: null });
    const sweeps = await owner.query('SELECT sweep_id, sweep_name, team_name, total FROM analyst.sweeps_v1 ORDER BY created_at');
    expect(sweeps.rows).toHaveLength(5);
  });

  it('the views have exactly the columns docs/analyst-sql.md lists, in its order (a _v1 never changes shape)', async () => {
    const doc = readFileSync(new URL('../docs/analyst-sql.md', import.meta.url), 'utf8');
    for (const view of ['sweeps_v1', 'runs_v1']) {
      const section = doc.split(`### \`analyst.${view}\``)[1].split('\n### ')[0];
      const documented = section.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| column') && !l.startsWith('| ---'))
        .flatMap((l) => l.split('|')[1].trim().split(', '));
      const { rows } = await owner.query<{ column_name: string }>(
        `SELECT column_name FROM information_schema.columns WHERE table_schema = 'analyst' AND table_name = $1 ORDER BY ordinal_position`, [view],
      );
      expect(rows.map((r) => r.column_name), view).toEqual(documented);
    }
  });

  it('the views are security_invoker, and row-level security is enabled but not forced (the owner is unaffected)', async () => {
    const views = await owner.query<{ relname: string; reloptions: string[] }>(
      `SELECT c.relname, c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'analyst' AND c.relkind = 'v' ORDER BY 1`,
    );
    expect(views.rows.map((v) => v.relname)).toEqual(['runs_v1', 'sweeps_v1']);
    for (const v of views.rows) expect(v.reloptions).toContain('security_invoker=true');
    const rls = await owner.query<{ relname: string; relrowsecurity: boolean; relforcerowsecurity: boolean }>(
      `SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class
        WHERE relname IN ('teams', 'sweeps', 'runs', 'results', 'team_readers') AND relnamespace = 'public'::regnamespace`,
    );
    for (const r of rls.rows) expect(r).toMatchObject({ relrowsecurity: true, relforcerowsecurity: false });
    expect((await owner.query('SELECT count(*)::int AS n FROM runs')).rows[0].n).toBe(9);
  });
});

describe('reader roles', () => {
  it('one team\'s reader cannot see another team\'s rows by any table or view', async () => {
    const role = await newReader(fx.teamA);
    await newReader(fx.teamB);
    const reader = await connectAs(role);

    // Owner's view of which rows are team A's, per relation with team-scoped rows.
    const teamOfSweep = new Map<string, string | null>(
      (await owner.query('SELECT id, team_id FROM sweeps')).rows.map((r) => [r.id, r.team_id]),
    );
    const aResults = new Set((await owner.query(
      'SELECT DISTINCT result_id::text AS id FROM runs WHERE sweep_id = ANY($1) AND result_id IS NOT NULL', [fx.sweepsA],
    )).rows.map((r) => r.id));
    const ownRow: Record<string, (row: Record<string, unknown>) => boolean> = {
      'public.teams': (r) => r.id === fx.teamA,
      'public.sweeps': (r) => teamOfSweep.get(r.id as string) === fx.teamA,
      'public.runs': (r) => teamOfSweep.get(r.sweep_id as string) === fx.teamA,
      'public.results': (r) => aResults.has(String(r.id)),
      'public.team_readers': (r) => r.role_name === role && r.team_id === fx.teamA,
      'analyst.sweeps_v1': (r) => r.team_id === fx.teamA,
      'analyst.runs_v1': (r) => r.team_id === fx.teamA,
    };

    // Every table, view, materialized view and sequence of both schemas, whatever a later migration adds.
    const rels = (await owner.query<{ rel: string; kind: string }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS rel, c.relkind::text AS kind
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('public', 'analyst') AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
        ORDER BY 1`,
    )).rows;
    expect(rels.length).toBeGreaterThan(10);
    const readable: string[] = [];
    for (const { rel } of rels) {
      // The columns this role may read (all, if it has table-wide SELECT).
      const cols = (await reader.query<{ attname: string }>(
        `SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped
            AND has_column_privilege(attrelid, attnum, 'SELECT') ORDER BY attnum`,
        [rel],
      )).rows.map((r) => r.attname);
      const star = await reader.query(`SELECT * FROM ${rel}`).then(() => 'ok', (err) => err.code as string);
      if (!cols.length) {
        expect(star, `${rel} should be refused`).toBe('42501');
        continue;
      }
      readable.push(rel);
      const judge = ownRow[rel];
      expect(judge, `${rel} is readable by a reader but has no team rule in this test`).toBeDefined();
      const { rows } = await reader.query(`SELECT ${cols.map((c) => `"${c}"`).join(', ')} FROM ${rel}`);
      for (const row of rows) {
        expect(judge(row), `${rel} shows a row of another team: ${JSON.stringify(row)}`).toBe(true);
        expect(JSON.stringify(row)).not.toContain(SECRET_B);
      }
    }
    expect(readable.sort()).toEqual(Object.keys(ownRow).sort());

    // And it sees all of its own: the views are usable, not merely empty.
    const runs = await reader.query('SELECT run_id, sweep_name, team_name, params, converged, summary FROM analyst.runs_v1');
    expect(runs.rows).toHaveLength(fx.runsA);
    expect(new Set(runs.rows.map((r) => r.team_name))).toEqual(new Set(['team-a']));
    // A result first computed for team B, reused by team A: team A sees it through its own run.
    expect(runs.rows.filter((r) => r.summary?.note === 'computed first by team b')).toHaveLength(2);
    const sweeps = await reader.query('SELECT sweep_name FROM analyst.sweeps_v1 ORDER BY sweep_name');
    expect(sweeps.rows.map((r) => r.sweep_name)).toEqual(['a first', 'a second']);
    const results = await reader.query('SELECT id::text FROM results ORDER BY id');
    expect(results.rows.map((r) => r.id).sort()).toEqual([...aResults].sort());
    expect(results.rows.map((r) => r.id)).not.toContain(fx.resultOnlyB);
    expect(results.rows.map((r) => r.id)).toContain(fx.resultShared);
  });

  it('reads only: no write, no DDL, no grant function, read-only transactions', async () => {
    const role = await newReader(fx.teamA);
    const reader = await connectAs(role);
    const code = (sql: string) => reader.query(sql).then(() => 'ok', (err) => err.code as string);
    expect((await reader.query('SHOW default_transaction_read_only')).rows[0].default_transaction_read_only).toBe('on');
    // Even in a read-write transaction it is refused by privileges, not only by the default.
    await reader.query('BEGIN READ WRITE');
    expect(await code(`UPDATE sweeps SET name = 'x'`)).toBe('42501');
    await reader.query('ROLLBACK');
    await reader.query('BEGIN READ WRITE');
    expect(await code(`INSERT INTO team_readers (role_name, team_id) VALUES ('${role}', '${fx.teamB}')`)).toBe('42501');
    await reader.query('ROLLBACK');
    await reader.query('BEGIN READ WRITE');
    expect(await code(`DELETE FROM runs`)).toBe('42501');
    await reader.query('ROLLBACK');
    await reader.query('BEGIN READ WRITE');
    expect(await code(`CREATE TABLE analyst.mine (x int)`)).toBe('42501');
    await reader.query('ROLLBACK');
    expect(await code(`SELECT grant_analyst_reader('${role}')`)).toBe('42501');
    expect(await code('SELECT * FROM api_keys')).toBe('42501');
    expect(await code('SELECT trajectory FROM results')).toBe('42501');
    const attrs = await owner.query(
      'SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolcanlogin, rolinherit FROM pg_roles WHERE rolname = $1', [role],
    );
    expect(attrs.rows[0]).toEqual({ rolsuper: false, rolcreaterole: false, rolcreatedb: false, rolbypassrls: false, rolcanlogin: true, rolinherit: false });
  });

  it('a role without its team_readers row sees nothing; a team with readers cannot be deleted; drop-reader removes the role', async () => {
    const temp = await createTeam(owner, 'short-lived');
    const sweep = await insertSweep(temp.id, 'temp', []);
    await insertRun(sweep, 0, 0.5, null, 'temp');
    const role = await newReader(temp.id);
    const reader = await connectAs(role);
    expect((await reader.query('SELECT count(*)::int AS n FROM analyst.runs_v1')).rows[0].n).toBe(1);
    const refused = await owner.query('DELETE FROM teams WHERE id = $1', [temp.id]).then(() => 'ok', (err) => err.code);
    expect(refused).toBe('23503');
    // Fail closed: the mapping gone (by hand), the role sees no row at all.
    await owner.query('DELETE FROM team_readers WHERE role_name = $1', [role]);
    for (const rel of ['analyst.runs_v1', 'analyst.sweeps_v1', 'runs', 'sweeps', 'results', 'teams']) {
      expect((await reader.query(`SELECT count(*)::int AS n FROM ${rel}`)).rows[0].n, rel).toBe(0);
    }
    await owner.query('INSERT INTO team_readers (role_name, team_id) VALUES ($1, $2)', [role, temp.id]);
    await reader.end();
    expect(await dropReader(owner, role)).toBe(true);
    expect((await owner.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount).toBe(0);
    expect(await dropReader(owner, role)).toBe(false);
    // Only roles made by createReader: never an arbitrary role.
    expect(await dropReader(owner, 'postgres')).toBe(false);
    await owner.query('DELETE FROM teams WHERE id = $1', [temp.id]);
  });

  it('the README query (pandas.read_sql) works as a reader', async () => {
    const role = await newReader(fx.teamA);
    const reader = await connectAs(role);
    const { rows } = await reader.query(
      `SELECT sweep_name, (params->>'q')::float8 AS q, basin_share0, nash_gap, converged
         FROM analyst.runs_v1
        WHERE 'paper' = ANY(sweep_tags) AND status = 'succeeded' AND contract = 2`,
    );
    expect(rows.map((r) => r.q).sort()).toEqual([0.1, 0.1, 0.5]);
  });

  it('passwords are stored as SCRAM-SHA-256 verifiers that Postgres checks like its own (RFC 7677 example)', () => {
    // RFC 7677, section 3: user "user", password "pencil".
    const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
    const v = scramSha256Verifier('pencil', salt, 4096);
    const m = /^SCRAM-SHA-256\$4096:([^$]+)\$([^:]+):(.+)$/.exec(v)!;
    expect(m[1]).toBe('W22ZaJ0SNY7soEsUEjb6gQ==');
    const storedKey = Buffer.from(m[2], 'base64');
    const serverKey = Buffer.from(m[3], 'base64');
    const nonce = 'rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
    const auth = `n=user,r=rOprNGfwEbeRWgbNEkqO,r=${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=${nonce}`;
    expect(createHmac('sha256', serverKey).update(auth).digest('base64')).toBe('6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
    // The server checks a client proof against StoredKey: recover ClientKey from the RFC's proof.
    const proof = Buffer.from('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', 'base64');
    const signature = createHmac('sha256', storedKey).update(auth).digest();
    const clientKey = Buffer.from(proof.map((x, i) => x ^ signature[i]));
    expect(createHash('sha256').update(clientKey).digest().equals(storedKey)).toBe(true);
  });
});
