// Stats rows and tag lines kept by triggers (migration 20261209010000_run_stats): run_stats
// must hold exactly the succeeded runs joined to their results after any mix of claims,
// finishes (of two contracts), failures, requeues, rolled-back statements, retries,
// cancels, result rows changed by hand and deletes, from concurrent connections; a
// settled sweep's kept tag lines must equal the lines computed from the runs, be made
// when the worker's finish settles the sweep, and never be used once the sweep changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import {
  ALL_SWEEPS, cancelSweep, claimRuns, createPool, finishRunsFailed, finishRunsSucceeded, finishSweepIfDone, requeueRuns,
  retrySweep, statsParallelSettings, statsRangeSettings, sweepStats, sweepsByTag, statsCacheSettings,
} from '@curation/db';
import { createTestDatabase, type TestDatabase } from './support/services.ts';

let tdb: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  tdb = await createTestDatabase();
  pool = createPool(tdb.url, 12);
});
afterAll(async () => { await pool?.end(); await tdb?.drop(); });

const COLUMNS = `contract, core_version, converged, converged_at, collapsed, nash_gap, basin_share0, surviving_basins, in_interval,
  final_entropy, outside_decay_rate, audit_applies, in_interval_b5, in_interval_corrected, outside_domination, final_outside`;

/** A q x seed sweep (q 4 values, `seeds` seeds), every run queued, tagged `tag`. */
async function newSweep(seeds: number, tag: string): Promise<string> {
  const spec = { name: 'stats rows', base: {}, axes: [{ param: 'q', values: [0.1, 0.2, 0.3, 0.4] }, { param: 'seed', replicates: seeds }] };
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO sweeps (id, name, tags, spec, total, status, core_version, enqueued)
     VALUES (gen_random_uuid(), 'stats rows', $1, $2, $3, 'running', '2.0.0', $3) RETURNING id`,
    [[tag], JSON.stringify(spec), 4 * seeds],
  );
  const id = rows[0].id;
  await pool.query(
    `INSERT INTO runs (sweep_id, index, params) SELECT $1, i, jsonb_build_object('q', 0.1 * (i / $2 + 1), 'seed', i % $2)
       FROM generate_series(0, 4 * $2 - 1) i`,
    [id, seeds],
  );
  return id;
}

/** A result per index, of core `core`: share0 and the other columns from the index. */
async function results(id: string, n: number, core: string): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO results (config_hash, core_version, git_revision, config, summary, trajectory, converged, converged_at, collapsed,
                          nash_gap, basin_share0, surviving_basins, in_interval, final_entropy, duration_ms, outside_decay_rate)
     SELECT $1 || ':' || i, $2, 't', '{}', jsonb_build_object('basinShare', jsonb_build_array(i / 100.0, 1 - i / 100.0)), '\\x00',
            i % 3 <> 0, CASE WHEN i % 3 <> 0 THEN i END, i % 5 = 0, (i % 7) / 10.0, i / 100.0, 2, CASE WHEN i % 2 = 0 THEN i % 4 = 0 END,
            1 + i / 1000.0, 1, CASE WHEN $2 LIKE '2.%' THEN i / 50.0 END
       FROM generate_series(0, $3 - 1) i ORDER BY i RETURNING id`,
    [`${id}:${core}`, core, n],
  );
  return rows.map((r) => r.id);
}

/** run_stats of the sweep, and what the runs joined to their results say it must hold. */
async function both(id: string): Promise<[unknown[], unknown[]]> {
  const kept = await pool.query(`SELECT index, run_id::text, ${COLUMNS} FROM run_stats WHERE sweep_id = $1 ORDER BY index`, [id]);
  const truth = await pool.query(
    `SELECT r.index, r.id::text AS run_id, ${COLUMNS.split(',').map((c) => `res.${c.trim()}`).join(', ')}
       FROM runs r JOIN results res ON res.id = r.result_id WHERE r.sweep_id = $1 AND r.status = 'succeeded' ORDER BY r.index`,
    [id],
  );
  return [kept.rows, truth.rows];
}

describe('stats rows kept by triggers', () => {
  it('equal the succeeded runs joined to their results after concurrent finishes, retries, cancels and hand edits', async () => {
    const seeds = 100;
    const id = await newSweep(seeds, 'rows');
    const v2 = await results(id, 4 * seeds, '2.0.0');
    const v1 = await results(id, 4 * seeds, '1.4.0');
    const workers = ['a', 'b', 'c', 'd'];
    await pool.query(`INSERT INTO workers (id) SELECT unnest($1::text[])`, [workers]);
    await Promise.all(workers.map(async (w, k) => {
      const mine = Array.from({ length: 4 * seeds }, (_, i) => i).filter((i) => i % 4 === k);
      for (let from = 0; from < mine.length; from += 25) {
        const claim = await claimRuns(pool, id, mine.slice(from, from + 25), w);
        const held = claim.indexes.map((index, j) => ({ index, attempt: claim.attempts[j] }));
        await requeueRuns(pool, id, w, held.filter((r) => r.index % 13 === 0));
        const rest = held.filter((r) => r.index % 13 !== 0);
        const ok = rest.filter((r) => r.index % 9 !== 0);
        // A finish rolled back: nothing of it may stay.
        const c = await pool.connect();
        try {
          await c.query('BEGIN');
          await finishRunsSucceeded(c, id, w, ok.map((r) => ({ ...r, resultId: v2[r.index], configHash: 'h', reused: false, durationMs: 1 })));
          await c.query('ROLLBACK');
        } finally {
          c.release();
        }
        // Every third run under contract 1, as a worker not yet upgraded would store it.
        await finishRunsSucceeded(pool, id, w, ok.map((r) => ({
          ...r, resultId: (r.index % 3 === 0 ? v1 : v2)[r.index], configHash: 'h', reused: false, durationMs: 1,
        })));
        await finishRunsFailed(pool, id, w, rest.filter((r) => r.index % 9 === 0).map((r) => ({ ...r, error: 'boom' })));
      }
    }));
    let [kept, truth] = await both(id);
    expect(truth.length).toBeGreaterThan(200);
    expect(kept).toEqual(truth);

    // A result changed by hand follows; a run linked elsewhere follows; a run made failed leaves.
    await pool.query(`UPDATE results SET basin_share0 = 0.99, collapsed = true WHERE id = $1`, [v2[1]]);
    await pool.query(`UPDATE runs SET result_id = $3 WHERE sweep_id = $1 AND index = $2`, [id, 2, v1[2]]);
    await pool.query(`UPDATE runs SET status = 'failed', result_id = NULL WHERE sweep_id = $1 AND index = 4`, [id]);
    [kept, truth] = await both(id);
    expect(kept).toEqual(truth);

    // Retry (failed and queued runs back to queued), cancel, and the rows of a deleted sweep.
    expect((await retrySweep(pool, id, ALL_SWEEPS)).outcome).toBe('retried');
    expect((await cancelSweep(pool, id, ALL_SWEEPS)).outcome).toBeDefined();
    [kept, truth] = await both(id);
    expect(kept).toEqual(truth);
    await pool.query('DELETE FROM sweeps WHERE id = $1', [id]);
    expect((await pool.query('SELECT 1 FROM run_stats WHERE sweep_id = $1', [id])).rowCount).toBe(0);
  }, 60_000);
});

describe('per-sweep stats from the stats rows', () => {
  it('give the same groups in one part or two, and the same as runs joined to results', async () => {
    const id = await newSweep(30, 'parts');
    const ids = await results(id, 120, '2.0.0');
    await pool.query(`UPDATE runs r SET status = 'succeeded', result_id = (($2::bigint[])[r.index + 1]) WHERE sweep_id = $1 AND index % 11 <> 5`, [id, ids]);
    statsCacheSettings.minMs = 1e12;
    try {
      const q = { metrics: ['summary.basinShare.0', 'summary.collapsed'], where: [] };
      for (const groupBy of [['q'], ['seed'], ['q', 'seed'], []]) {
        statsParallelSettings.parts = 1;
        const one = (await sweepStats(pool, id, { ...q, groupBy }))!;
        statsParallelSettings.parts = 2;
        const two = (await sweepStats(pool, id, { ...q, groupBy }))!;
        // A jsonb metric beside them: runs joined to results.
        const joined = (await sweepStats(pool, id, { ...q, metrics: [...q.metrics, 'summary.basinShare.1'], groupBy }))!;
        expect(two.groups.map((g) => g.key)).toEqual(one.groups.map((g) => g.key));
        for (const [i, g] of one.groups.entries()) {
          for (const other of [two.groups[i], joined.groups[i]]) {
            expect(other.n).toBe(g.n);
            expect(other.firstRunId).toBe(g.firstRunId);
            expect(other.coreVersions).toEqual(g.coreVersions);
            for (const m of q.metrics) {
              for (const [k, v] of Object.entries(g.metrics[m])) expect((other.metrics[m] as unknown as Record<string, number>)[k], `${groupBy} ${m} ${k}`).toBeCloseTo(v as number, 12);
            }
          }
        }
      }
    } finally {
      statsCacheSettings.minMs = 250;
      statsParallelSettings.parts = 2;
    }
  });
});

describe('per-sweep stats read range by range', () => {
  it('equal the sorted statement and the join, with groups of two contracts and two core versions', async () => {
    const seeds = 40;
    const id = await newSweep(seeds, 'ranges');
    const v2 = await results(id, 4 * seeds, '2.0.0');
    const v1 = await results(id, 4 * seeds, '1.4.0');
    // q = 0.1: one contract, one version; q = 0.2: two versions of contract 2 (a result
    // copied as 2.0.1); q = 0.3: both contracts; q = 0.4: no succeeded run (no group).
    const [v201] = (await pool.query<{ id: string }>(
      `INSERT INTO results (config_hash, core_version, git_revision, config, summary, trajectory, converged, collapsed, basin_share0,
                            surviving_basins, final_entropy, duration_ms)
       VALUES ($1, '2.0.1', 't', '{}', '{"basinShare": [0.5, 0.5]}', '\\x00', true, false, 0.5, 2, 1, 1) RETURNING id`, [`${id}:201`],
    )).rows.map((r) => r.id);
    await pool.query(
      `UPDATE runs r SET status = 'succeeded',
              result_id = CASE WHEN r.index = $3 + 7 THEN $4::bigint WHEN r.index >= 2 * $3 AND r.index % 2 = 1 THEN ($5::bigint[])[r.index + 1]
                               ELSE ($2::bigint[])[r.index + 1] END
        WHERE sweep_id = $1 AND index < 3 * $3 AND index % 11 <> 5`,
      [id, v2, seeds, v201, v1],
    );
    statsCacheSettings.minMs = 1e12;
    const minRows = statsRangeSettings.minRows;
    try {
      const q = { metrics: ['summary.basinShare.0', 'summary.nashGap', 'summary.collapsed'], where: [], groupBy: ['q'] };
      const where = [{ field: 'summary.collapsed', op: '=' as const, value: false }];
      for (const o of [q, { ...q, where }]) {
        for (const contract of [undefined, 1]) {
          const at = async (rows: number, parts: number) => {
            statsRangeSettings.minRows = rows;
            statsParallelSettings.parts = parts;
            return (await sweepStats(pool, id, { ...o, contract }))!;
          };
          const sorted = await at(Infinity, 1);
          const joined = (await sweepStats(pool, id, { ...o, contract, metrics: [...o.metrics, 'summary.basinShare.1'] }))!;
          expect(sorted.groups.length).toBeGreaterThan(0);
          for (const parts of [1, 2, 3]) {
            const ranged = await at(1, parts);
            for (const other of [ranged, joined]) {
              expect(other.contract).toBe(sorted.contract);
              expect(other.coreVersions).toEqual(sorted.coreVersions);
              expect(other.otherContracts).toEqual(sorted.otherContracts);
              expect(other.groups.map((g) => [g.key, g.n, g.runId, g.firstRunId, g.contract, g.coreVersions]))
                .toEqual(sorted.groups.map((g) => [g.key, g.n, g.runId, g.firstRunId, g.contract, g.coreVersions]));
              for (const [i, g] of sorted.groups.entries()) {
                for (const k of ['collapsedRate', 'convergedRate', 'inIntervalRate', 'meanConvergedAt'] as const) {
                  if (g[k] === null) expect(other.groups[i][k]).toBeNull();
                  else expect(other.groups[i][k]).toBeCloseTo(g[k], 12);
                }
                for (const m of o.metrics) {
                  for (const [k, v] of Object.entries(g.metrics[m])) {
                    const got = (other.groups[i].metrics[m] as unknown as Record<string, number | null>)[k];
                    if (v === null) expect(got, `${m} ${k}`).toBeNull();
                    else expect(got, `${m} ${k}`).toBeCloseTo(v as number, 12);
                  }
                }
              }
            }
          }
        }
      }
      // The mixes are there: two versions in a group, two contracts in the sweep.
      statsRangeSettings.minRows = 1;
      const all = (await sweepStats(pool, id, q))!;
      expect(all.groups.map((g) => g.coreVersions)).toEqual([['2.0.0'], ['2.0.0', '2.0.1'], ['2.0.0']]);
      expect(all.otherContracts).toEqual([{ contract: 1, runs: expect.any(Number), coreVersions: ['1.4.0'] }]);
    } finally {
      statsCacheSettings.minMs = 250;
      statsParallelSettings.parts = 2;
      statsRangeSettings.minRows = minRows;
    }
  });
});

describe('tag lines kept for settled sweeps', () => {
  it('are made when the finish settles the sweep, equal lines from the runs, and are not used after a change', async () => {
    const id = await newSweep(20, 'lines');
    const ids = await results(id, 80, '2.0.0');
    await pool.query(`UPDATE runs r SET status = 'succeeded', result_id = (($2::bigint[])[r.index + 1]) WHERE sweep_id = $1 AND index % 9 <> 4`, [id, ids]);
    await pool.query(`UPDATE runs SET status = 'failed', error = 'boom' WHERE sweep_id = $1 AND index % 9 = 4`, [id]);
    const metrics = ['summary.basinShare.0', 'summary.outsideDecayRate', 'summary.converged'];
    const running = await sweepsByTag(pool, 'lines', { metrics });
    expect((await pool.query('SELECT 1 FROM run_stats_lines WHERE sweep_id = $1', [id])).rowCount).toBe(0);
    expect(await finishSweepIfDone(pool, id)).toBe('failed');
    expect((await pool.query('SELECT 1 FROM run_stats_lines WHERE sweep_id = $1', [id])).rowCount).toBe(1);
    const settled = await sweepsByTag(pool, 'lines', { metrics });
    const drop = (xs: Awaited<ReturnType<typeof sweepsByTag>>) => xs.map((x) => ({ ...x, status: undefined }));
    expect(drop(settled)).toEqual(drop(running));
    // The same from runs joined to results (a jsonb metric takes that path).
    const joined = await sweepsByTag(pool, 'lines', { metrics: [...metrics, 'summary.basinShare.1'] });
    const line = settled[0];
    expect(line.succeeded).toBe(joined[0].succeeded);
    expect(line.failed).toBe(joined[0].failed);
    for (const m of metrics) {
      for (const [k, v] of Object.entries(line.metrics[m])) expect((joined[0].metrics[m] as Record<string, number | null>)[k], `${m} ${k}`).toBeCloseTo(v as number, 12);
    }
    expect(line.collapsedRate).toBeCloseTo(joined[0].collapsedRate!, 12);
    expect(line.meanNashGap).toBeCloseTo(joined[0].meanNashGap!, 12);

    // A result changed by hand drops the kept line; a retry makes the sweep unsettled.
    await pool.query(`UPDATE results SET basin_share0 = 0.5 WHERE id = $1`, [ids[0]]);
    expect((await pool.query('SELECT 1 FROM run_stats_lines WHERE sweep_id = $1', [id])).rowCount).toBe(0);
    const after = await sweepsByTag(pool, 'lines', { metrics });
    expect(after[0].metrics['summary.basinShare.0'].mean).not.toBeCloseTo(line.metrics['summary.basinShare.0'].mean!, 12);
    expect((await pool.query('SELECT 1 FROM run_stats_lines WHERE sweep_id = $1', [id])).rowCount).toBe(1); // kept again on use
    expect((await retrySweep(pool, id, ALL_SWEEPS)).outcome).toBe('retried');
    const retried = await sweepsByTag(pool, 'lines', { metrics });
    expect(retried[0].failed).toBe(0);
    expect(retried[0].metrics['summary.basinShare.0'].count).toBe(after[0].metrics['summary.basinShare.0'].count);
  });
});

describe('values whose squares underflow', () => {
  // A decayed outside mass is near 1e-200; Postgres raises an error for a float8 product
  // that rounds to zero, which once kept a settled sweep running and failed its stats.
  it('settle the sweep and give stats with a mean square of 0', async () => {
    const id = await newSweep(5, 'tiny');
    const ids = await results(id, 20, '2.0.0');
    await pool.query(`UPDATE results SET final_outside = 1e-200, basin_share0 = CASE WHEN id = $2 THEN 0.5 ELSE 1e-170 END
                       WHERE id = ANY($1::bigint[])`, [ids, ids[0]]);
    await pool.query(`UPDATE runs r SET status = 'succeeded', result_id = (($2::bigint[])[r.index + 1]) WHERE sweep_id = $1`, [id, ids]);
    expect(await finishSweepIfDone(pool, id)).toBe('succeeded');
    expect((await pool.query('SELECT 1 FROM run_stats_lines WHERE sweep_id = $1', [id])).rowCount).toBe(1);
    const metrics = ['summary.final.outside', 'summary.basinShare.0'];
    const [line] = await sweepsByTag(pool, 'tiny', { metrics });
    expect(line.metrics['summary.final.outside'].meanSquare).toBe(0);
    expect(line.metrics['summary.basinShare.0'].meanSquare).toBeCloseTo(0.25 / 20, 15);
    const stats = (await sweepStats(pool, id, { groupBy: ['q'], metrics, where: [] }))!;
    expect(stats.groups).toHaveLength(4);
    for (const g of stats.groups) {
      expect(g.metrics['summary.final.outside'].mean).toBe(1e-200);
      expect(g.metrics['summary.final.outside'].meanSquare).toBe(0);
    }
    const joined = (await sweepStats(pool, id, { groupBy: ['q'], metrics: [...metrics, 'summary.basinShare.1'], where: [] }))!;
    expect(joined.groups.map((g) => g.metrics['summary.final.outside'].meanSquare)).toEqual([0, 0, 0, 0]);
  });
});
