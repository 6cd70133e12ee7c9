// Per-sweep run counts kept by triggers (migration 20261208000000_sweep_run_counts) and
// constant-time cancel: the counts must equal a count of the rows after any mix of
// claims, finishes, retries, cancels, requeues, compactions and rolled-back statements,
// from concurrent connections; queued runs of a cancelled sweep read as cancelled until
// the background pass writes them, and a retry reopens them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import {
  ALL_SWEEPS, cancelQueuedRunsChunk, cancelSweep, claimRuns, compactRunCounts, createPool, finishRunsFailed, finishRunsSucceeded,
  listRuns, requeueRuns, retrySweep, runStatusCounts, sweepsToCancel, type StatusCounts,
} from '@curation/db';
import { createTestDatabase, type TestDatabase } from './support/services.ts';

let tdb: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  tdb = await createTestDatabase();
  pool = createPool(tdb.url, 12);
});
afterAll(async () => { await pool?.end(); await tdb?.drop(); });

async function newSweep(runs: number): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO sweeps (id, name, spec, total, core_version, enqueued) VALUES (gen_random_uuid(), 'counts', '{}', $1, '2.0.0', $1) RETURNING id`,
    [runs],
  );
  const id = rows[0].id;
  await pool.query(`INSERT INTO runs (sweep_id, index, params) SELECT $1, i, '{}' FROM generate_series(0, $2 - 1) i`, [id, runs]);
  return id;
}

/** The counts a plain count of the rows gives, with the same reading of a cancelled sweep's queued runs. */
async function counted(id: string): Promise<StatusCounts> {
  const { rows } = await pool.query<{ status: keyof StatusCounts; n: number; reused: number }>(
    `SELECT CASE WHEN r.status = 'queued' AND s.status = 'cancelled' THEN 'cancelled' ELSE r.status END AS status,
            count(*)::int AS n, count(*) FILTER (WHERE r.reused AND r.status = 'succeeded')::int AS reused
       FROM runs r JOIN sweeps s ON s.id = r.sweep_id WHERE r.sweep_id = $1 GROUP BY 1`,
    [id],
  );
  const c: StatusCounts = { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0, reused: 0 };
  for (const r of rows) { c[r.status] += r.n; c.reused += r.reused; }
  return c;
}

const kept = async (id: string) => (await runStatusCounts(pool, [id])).get(id);

describe('run counts kept by triggers', () => {
  it('equal a count of the rows after concurrent claims, finishes, requeues and compactions', async () => {
    const id = await newSweep(2000);
    const workers = Array.from({ length: 6 }, (_, w) => `w${w}`);
    // Live workers (a heartbeat each), so none takes over another's runs mid-finish.
    await pool.query(`INSERT INTO workers (id) SELECT unnest($1::text[])`, [workers]);
    let compactions = 0;
    let stop = false;
    const compactor = (async () => {
      while (!stop) { await compactRunCounts(pool, [id]); compactions++; }
    })();
    // Started already: a first claim also updates the sweep row, which would order the claims.
    await pool.query(`UPDATE sweeps SET status = 'running', started_at = now() WHERE id = $1`, [id]);
    await Promise.all(workers.map(async (w, k) => {
      // Worker k's runs are every sixth; what it hands back, the next worker takes in its second round.
      for (const round of [0, 1]) {
        const mine = Array.from({ length: 2000 }, (_, i) => i).filter((i) => i % 6 === (k + round) % 6);
        for (let from = 0; from < mine.length; from += 40) {
          const claim = await claimRuns(pool, id, mine.slice(from, from + 40), w);
          const held = claim.indexes.map((index, j) => ({ index, attempt: claim.attempts[j] }));
          const back = (i: number) => round === 0 && i % 11 === 0;
          await requeueRuns(pool, id, w, held.filter((r) => back(r.index)));
          const ok = held.filter((r) => r.index % 7 !== 0 && !back(r.index));
          const bad = held.filter((r) => r.index % 7 === 0 && !back(r.index));
          await finishRunsSucceeded(pool, id, w, ok.map((r) => ({ ...r, resultId: null, configHash: 'h', reused: r.index % 3 === 0, durationMs: 1 })) as never);
          await finishRunsFailed(pool, id, w, bad.map((r) => ({ ...r, error: 'boom' })));
        }
        // A pause between rounds, so second rounds mostly find the first ones done.
        await new Promise((r) => setTimeout(r, 50));
      }
    })).finally(() => { stop = true; });
    await compactor;
    expect(compactions).toBeGreaterThan(0);
    const truth = await counted(id);
    expect(truth.succeeded + truth.failed + truth.queued).toBe(2000);
    expect(truth.reused).toBeGreaterThan(0);
    expect(await kept(id)).toEqual(truth);
    // A retry puts the failed ones back.
    expect((await retrySweep(pool, id, ALL_SWEEPS)).outcome).toBe('retried');
    expect((await kept(id))!.failed).toBe(0);
    expect(await kept(id)).toEqual(await counted(id));
    // Compacted: at most one row per status.
    await compactRunCounts(pool, [id]);
    const rows = await pool.query('SELECT status FROM sweep_run_counts WHERE sweep_id = $1', [id]);
    expect(rows.rowCount).toBeLessThanOrEqual(3);
    expect(await kept(id)).toEqual(await counted(id));
  }, 60_000);

  it('two workers updating runs of one sweep never wait on each other\'s counters', async () => {
    const id = await newSweep(10);
    const a = await pool.connect();
    const b = await pool.connect();
    try {
      await a.query('BEGIN');
      await a.query(`UPDATE runs SET status = 'running' WHERE sweep_id = $1 AND index < 5`, [id]);
      await b.query('BEGIN');
      await b.query(`SET LOCAL lock_timeout = '1s'`);
      // Same sweep, same statuses: appends its own counter rows instead of waiting for a's.
      await b.query(`UPDATE runs SET status = 'running' WHERE sweep_id = $1 AND index >= 5`, [id]);
      await b.query('COMMIT');
      await a.query('COMMIT');
    } finally {
      a.release();
      b.release();
    }
    expect(await kept(id)).toEqual(await counted(id));
    expect((await kept(id))!.running).toBe(10);
  });

  it('a statement that fails half-way, or a connection killed mid-transaction, changes no count', async () => {
    const id = await newSweep(1000);
    const before = await kept(id);
    // Fails on its 501st row, after 500 were updated (and their deltas computed): rolled back as a whole.
    await expect(pool.query(
      `UPDATE runs SET status = CASE WHEN index = 500 THEN (1 / (index - 500))::text ELSE 'running' END WHERE sweep_id = $1`, [id],
    )).rejects.toThrow(/division by zero/);
    expect(await kept(id)).toEqual(before);
    // A transaction whose connection dies (a crashed worker) before it commits.
    const victim = new pg.Client({ connectionString: tdb.url });
    await victim.connect();
    victim.on('error', () => {});
    await victim.query('BEGIN');
    await victim.query(`UPDATE runs SET status = 'failed' WHERE sweep_id = $1 AND index < 300`, [id]);
    const pid = (await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    await pool.query('SELECT pg_terminate_backend($1)', [pid]);
    await victim.end().catch(() => {});
    expect(await kept(id)).toEqual(before);
    expect(await kept(id)).toEqual(await counted(id));
  });

  it('follow inserts and deletes; a deleted sweep leaves no counter rows', async () => {
    const id = await newSweep(100);
    await pool.query(`DELETE FROM runs WHERE sweep_id = $1 AND index >= 90`, [id]);
    await pool.query(`INSERT INTO runs (sweep_id, index, params, status) VALUES ($1, 100, '{}', 'failed')`, [id]);
    expect(await kept(id)).toEqual(await counted(id));
    expect((await kept(id))!.queued).toBe(90);
    await pool.query('DELETE FROM sweeps WHERE id = $1', [id]);
    expect((await pool.query('SELECT 1 FROM sweep_run_counts WHERE sweep_id = $1', [id])).rowCount).toBe(0);
  });
});

describe('constant-time cancel', () => {
  it('marks the sweep only; queued runs read as cancelled in counts and run pages until written', async () => {
    const id = await newSweep(50);
    await pool.query(`UPDATE runs SET status = 'succeeded' WHERE sweep_id = $1 AND index < 10`, [id]);
    await pool.query(`UPDATE runs SET status = 'running', started_at = now() WHERE sweep_id = $1 AND index BETWEEN 10 AND 11`, [id]);
    expect(await cancelSweep(pool, id, ALL_SWEEPS)).toEqual({ outcome: 'cancelled', cancelledRuns: 38 });
    // Nothing rewritten yet.
    expect((await pool.query(`SELECT count(*)::int AS n FROM runs WHERE sweep_id = $1 AND status = 'queued'`, [id])).rows[0].n).toBe(38);
    expect(await kept(id)).toEqual({ queued: 0, running: 2, succeeded: 10, failed: 0, cancelled: 38, reused: 0 });
    const page = await listRuns(pool, id, { limit: 100 });
    expect(page.items.filter((r) => r.status === 'cancelled')).toHaveLength(38);
    expect(page.items.find((r) => r.index === 20)!.finishedAt).not.toBeNull();
    expect((await listRuns(pool, id, { status: 'cancelled', limit: 100 })).items).toHaveLength(38);
    expect((await listRuns(pool, id, { status: 'queued', limit: 100 })).items).toHaveLength(0);
    expect((await listRuns(pool, id, { status: 'succeeded', limit: 100 })).items).toHaveLength(10);
    const view = await pool.query(`SELECT status, count(*)::int AS n FROM analyst.runs_v1 WHERE sweep_id = $1 GROUP BY 1 ORDER BY 1`, [id]);
    expect(view.rows).toEqual([{ status: 'cancelled', n: 38 }, { status: 'running', n: 2 }, { status: 'succeeded', n: 10 }]);
    // Workers claim nothing in it.
    expect((await claimRuns(pool, id, [20, 21], 'w')).indexes).toEqual([]);

    expect(await sweepsToCancel(pool)).toContain(id);
    expect(await cancelQueuedRunsChunk(pool, id, -1, 30)).toEqual({ n: 30, last: 41 });
    expect(await cancelQueuedRunsChunk(pool, id, 41, 30)).toEqual({ n: 8, last: 49 });
    expect(await cancelQueuedRunsChunk(pool, id, 49, 30)).toEqual({ n: 0, last: 49 });
    expect(await sweepsToCancel(pool)).not.toContain(id);
    const cancelledAt = await pool.query(`SELECT DISTINCT r.finished_at = s.finished_at AS same FROM runs r JOIN sweeps s ON s.id = r.sweep_id
      WHERE r.sweep_id = $1 AND r.status = 'cancelled'`, [id]);
    expect(cancelledAt.rows).toEqual([{ same: true }]);
    expect(await kept(id)).toEqual({ queued: 0, running: 2, succeeded: 10, failed: 0, cancelled: 38, reused: 0 });
    expect(await kept(id)).toEqual(await counted(id));
  });

  it('retry reopens runs the pass has not written yet, and the pass then leaves them queued', async () => {
    const id = await newSweep(40);
    await pool.query(`UPDATE runs SET status = 'failed', error = 'x' WHERE sweep_id = $1 AND index < 5`, [id]);
    await cancelSweep(pool, id, ALL_SWEEPS);
    expect(await cancelQueuedRunsChunk(pool, id, -1, 10)).toEqual({ n: 10, last: 14 }); // part written, part still queued
    const r = await retrySweep(pool, id, ALL_SWEEPS);
    expect(r.outcome).toBe('retried');
    if (r.outcome !== 'retried') return;
    expect(r.indexes).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(await cancelQueuedRunsChunk(pool, id)).toBeNull();
    expect(await kept(id)).toEqual({ queued: 40, running: 0, succeeded: 0, failed: 0, cancelled: 0, reused: 0 });
    expect(await kept(id)).toEqual(await counted(id));
  });

  it('a pass and a retry racing: every run ends queued and the counts stay exact', async () => {
    for (let round = 0; round < 8; round++) {
      const id = await newSweep(3000);
      await cancelSweep(pool, id, ALL_SWEEPS);
      const [, retried] = await Promise.all([
        (async () => {
          for (let after = -1; ;) {
            const chunk = await cancelQueuedRunsChunk(pool, id, after, 200);
            if (!chunk?.n) return; // done, or reopened
            after = chunk.last;
          }
        })(),
        (async () => { await new Promise((r) => setTimeout(r, round * 3)); return retrySweep(pool, id, ALL_SWEEPS); })(),
      ]);
      expect(retried.outcome).toBe('retried');
      const truth = await counted(id);
      expect(truth.queued).toBe(3000);
      expect(await kept(id)).toEqual(truth);
    }
  }, 60_000);
});
