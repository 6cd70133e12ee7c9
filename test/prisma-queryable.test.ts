// The repositories' SQL through Prisma Client (prismaQueryable) must behave as through
// pg: the same rows with the same JavaScript types, the same row counts, pg's error
// codes, and the real hot-path functions working unchanged on it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { simulate } from '@curation/core';
import {
  claimRuns, createPool, decodeTrajectory, encodeTrajectory, findReusableResults, finishRunsSucceeded, finishSweepIfDone,
  insertResults, openRuns, prismaFor, prismaQueryable, prismaQueryableFor, type NewResult, type Queryable,
} from '@curation/db';
import { createTestDatabase, type TestDatabase } from './support/services.ts';
import { insertSweep, runStatuses, smallSpec, sweepRow } from '../apps/worker/test/helpers.ts';

describe('prismaQueryable', () => {
  let tdb: TestDatabase;
  let pool: pg.Pool;
  let viaPrisma: Queryable;
  beforeAll(async () => {
    tdb = await createTestDatabase();
    pool = createPool(tdb.url, 4);
    viaPrisma = prismaQueryableFor(pool);
  });
  afterAll(async () => { await pool?.end(); await tdb?.drop(); });

  it('gives the rows pg gives, with pg\'s JavaScript types, for every type the repositories read', async () => {
    const sql = `SELECT 7::int4 AS i4, 9007199254740993::int8 AS i8, (SELECT count(*) FROM generate_series(1, 3)) AS n,
        12.25::numeric AS num, 0.1::float8 AS f8, true AS b, 'text' AS t, '7d2c1f7e-3a52-4bb1-9a43-2a8f6e4b9f10'::uuid AS u,
        '2026-12-07 10:11:12.345+00'::timestamptz AS tz, '2026-01-02'::date AS d, '\\x00ff10'::bytea AS bytes,
        '{"a": [1, 2.5, null], "b": "x"}'::jsonb AS jb, '[1, {"c": true}]'::json AS j,
        ARRAY[1, 2]::int[] AS ai, ARRAY[1, 9007199254740993]::int8[] AS ai8, ARRAY['a', NULL]::text[] AS at,
        ARRAY[1.5, NULL]::float8[] AS af, ARRAY[true, false]::bool[] AS ab, ARRAY['\\x01'::bytea] AS abytes,
        ARRAY['7d2c1f7e-3a52-4bb1-9a43-2a8f6e4b9f10'::uuid] AS au, '{}'::int[] AS empty, NULL::int AS nothing,
        $1::text AS p_text, $2::int[] AS p_ints, $3::bytea AS p_bytes, $4::jsonb AS p_json, $5::bigint[] AS p_bigints`;
    const params = ['x', [3, 4], Buffer.from([1, 2, 3]), JSON.stringify({ k: 1 }), ['5', '6']];
    const a = await pool.query(sql, params);
    const b = await viaPrisma.query(sql, params);
    expect(b.rows).toEqual(a.rows);
    expect(b.rowCount).toBe(1);
    const row = b.rows[0];
    expect(row.i8).toBe('9007199254740993');
    expect(row.n).toBe('3');
    expect(row.num).toBe('12.25');
    expect(row.ai8).toEqual(['1', '9007199254740993']);
    expect(Buffer.isBuffer(row.bytes)).toBe(true);
    expect(Buffer.isBuffer(row.abytes[0])).toBe(true);
    expect(Buffer.isBuffer(row.p_bytes)).toBe(true);
    expect(row.tz).toEqual(new Date('2026-12-07T10:11:12.345Z'));
    // The one known difference: numeric's text loses trailing zeros (Prisma reads it as a Decimal).
    expect((await pool.query('SELECT 1.50::numeric AS x')).rows[0].x).toBe('1.50');
    expect((await viaPrisma.query('SELECT 1.50::numeric AS x')).rows[0].x).toBe('1.5');
  });

  it('counts the rows a statement touched, with or without RETURNING', async () => {
    await viaPrisma.query('CREATE TABLE pq_t (id int PRIMARY KEY, v text)');
    const ins = await viaPrisma.query(`INSERT INTO pq_t SELECT g, 'v' FROM generate_series(1, 5) g`);
    expect(ins).toMatchObject({ rowCount: 5, rows: [] });
    const ret = await viaPrisma.query(`INSERT INTO pq_t VALUES (6, 'returning'), (7, ')') RETURNING id`);
    expect(ret).toMatchObject({ rowCount: 2, rows: [{ id: 6 }, { id: 7 }] });
    // A data-modifying CTE's own RETURNING is not the statement's; words in quotes and comments are not words.
    const cte = await viaPrisma.query(
      `WITH moved AS (UPDATE pq_t SET v = 'RETURNING' WHERE id <= 2 RETURNING id) -- RETURNING
       UPDATE pq_t SET v = 'w' /* RETURNING (nested /* comment */) */ WHERE id IN (SELECT id + 2 FROM moved)`);
    expect(cte).toMatchObject({ rowCount: 2, rows: [] });
    const del = await viaPrisma.query(`WITH d AS (DELETE FROM pq_t WHERE id > 5 RETURNING id) SELECT count(*) AS n FROM d`);
    expect(del.rows).toEqual([{ n: '2' }]);
    expect((await viaPrisma.query('SELECT id FROM pq_t WHERE id > $1 ORDER BY id', [3])).rowCount).toBe(2);
    expect((await viaPrisma.query({ text: 'UPDATE pq_t SET v = $1', values: ['z'] })).rowCount).toBe(5);
  });

  it('reports a statement Postgres refused as pg does: SQLSTATE, constraint and table', async () => {
    await viaPrisma.query('CREATE TABLE pq_u (id int CONSTRAINT pq_u_key PRIMARY KEY)');
    await viaPrisma.query('INSERT INTO pq_u VALUES (1)');
    const err = await viaPrisma.query('INSERT INTO pq_u VALUES (1)').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: '23505', constraint: 'pq_u_key', table: 'pq_u' });
    expect((err as Error).message).toMatch(/duplicate key value violates unique constraint "pq_u_key"/);
    await expect(viaPrisma.query('SELECT * FROM pq_nowhere')).rejects.toMatchObject({ code: '42P01' });
  });

  it('runs the hot-path functions unchanged: open runs, claims, result inserts, reuse, finishes', async () => {
    const { id, total } = await insertSweep(pool, smallSpec({ name: 'through-prisma' }));
    const all = Array.from({ length: total }, (_, i) => i);
    expect(await openRuns(viaPrisma, id, all, 'pw')).toEqual({ sweepStatus: 'queued', indexes: all });
    const claim = await claimRuns(viaPrisma, id, all, 'pw');
    expect(claim).toEqual({ sweepStatus: 'queued', indexes: all, attempts: all.map(() => 1) });
    expect((await sweepRow(pool, id)).status).toBe('running');

    const results: NewResult[] = all.map((i) => {
      const config = { support: { kind: 'grid', min: -6, max: 6, n: 41 }, rewards: [{ kind: 'quadratic', center: -1 }, { kind: 'quadratic', center: 1 }], K: 'inf', q: 0.1 + i / 10, iterations: 5 + i } as never;
      const out = simulate(config, {});
      return {
        configHash: `pq-${i}`, coreVersion: 'pq-core', gitRevision: 'rev', config, summary: out.summary,
        trajectory: new Uint8Array(encodeTrajectory(out.trajectory)), generator: null, durationMs: 2.5,
      };
    });
    const ids = await insertResults(viaPrisma, results);
    expect([...ids.keys()].sort()).toEqual(results.map((r) => r.configHash).sort());
    for (const v of ids.values()) expect(v).toMatch(/^[0-9]+$/); // bigint ids as strings, as pg gives them
    // Stored as through pg: the same bytes, the same JSON.
    const { rows } = await pool.query(`SELECT config_hash, trajectory, summary FROM results WHERE core_version = 'pq-core' ORDER BY config_hash`);
    for (const [k, r] of results.entries()) {
      expect(rows[k].summary).toEqual(r.summary);
      expect(decodeTrajectory(rows[k].trajectory)).toEqual(decodeTrajectory(r.trajectory));
    }
    // A second insert of the same results finds the stored rows (the ON CONFLICT path).
    expect(await insertResults(viaPrisma, results)).toEqual(ids);
    expect(await findReusableResults(viaPrisma, 'pq-core', ['pq-0', 'pq-1', 'none'], 'global'))
      .toEqual(new Map([['pq-0', ids.get('pq-0')], ['pq-1', ids.get('pq-1')]]));

    const finished = await finishRunsSucceeded(viaPrisma, id, 'pw', all.map((i) => ({
      index: i, attempt: 1, resultId: ids.get(`pq-${i}`)!, configHash: `pq-${i}`, durationMs: 2.5, reused: false,
    })));
    expect(finished).toBe(total);
    // A stale claim writes nothing, and says so.
    expect(await finishRunsSucceeded(viaPrisma, id, 'other', [{ index: 0, attempt: 1, resultId: ids.get('pq-0')!, configHash: 'pq-0', durationMs: 1, reused: false }])).toBe(0);
    expect(Object.values(await runStatuses(pool, id))).toEqual(all.map(() => 'succeeded'));
    expect(await finishSweepIfDone(viaPrisma, id)).toBe('succeeded');
    expect(await openRuns(viaPrisma, id, all, 'pw')).toEqual({ sweepStatus: 'succeeded', indexes: [] });
  });

  it('runs inside an interactive transaction, which rolls back as one', async () => {
    const { id } = await insertSweep(pool, smallSpec({ name: 'prisma-tx' }));
    await expect(prismaFor(pool).$transaction(async (tx) => {
      const q = prismaQueryable(tx);
      expect((await claimRuns(q, id, [0, 1], 'tx-w')).indexes).toEqual([0, 1]);
      expect((await q.query(`SELECT count(*) AS n FROM runs WHERE sweep_id = $1 AND status = 'running'`, [id])).rows[0].n).toBe('2');
      throw new Error('roll back');
    })).rejects.toThrow('roll back');
    expect(await runStatuses(pool, id)).toEqual({ 0: 'queued', 1: 'queued', 2: 'queued', 3: 'queued' });
  });
});
