import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { simulate } from '@curation/core';
import {
  cancelRunsIfSweepCancelled, claimRuns, createPool, decodeTrajectory, encodeTrajectory, finishRunsFailed, finishRunsSucceeded,
  finishSweepIfDone, heartbeat, insertResults, openRuns, releaseRunsOfDeadWorkers, requeueRuns, type NewResult,
} from '@curation/db';
import { createTestDatabase, type TestDatabase } from '../../../test/support/services.ts';
import { insertSweep, runStatuses, smallSpec, sweepRow } from './helpers.ts';

describe('run lifecycle statements', () => {
  let tdb: TestDatabase;
  let db: pg.Pool;
  beforeAll(async () => { tdb = await createTestDatabase(); db = createPool(tdb.url, 12); });
  afterAll(async () => { await db?.end(); await tdb?.drop(); });

  it('claims queued or orphaned running runs only, and starts the sweep once', async () => {
    const { id } = await insertSweep(db, smallSpec({ name: 'claim' }));
    expect(await claimRuns(db, id, [0, 1], 'w1')).toEqual({ sweepStatus: 'queued', indexes: [0, 1], attempts: [1, 1] });
    const s = await sweepRow(db, id);
    expect(s.status).toBe('running');
    await db.query(`UPDATE runs SET status = 'succeeded' WHERE sweep_id = $1 AND index = 0`, [id]);
    await db.query(`UPDATE runs SET status = 'failed' WHERE sweep_id = $1 AND index = 2`, [id]);
    // 0 done, 1 orphaned running (w1 has no heartbeat: reclaimed), 2 failed (left alone), 3 queued.
    expect(await claimRuns(db, id, [0, 1, 2, 3], 'w2')).toEqual({ sweepStatus: 'running', indexes: [1, 3], attempts: [2, 1] });
    expect((await sweepRow(db, id)).started_at).toEqual(s.started_at);
    // Keyed on the claim: w1's old claim of 1 hands nothing back.
    expect(await requeueRuns(db, id, 'w1', [{ index: 1, attempt: 1 }])).toBe(0);
    expect(await requeueRuns(db, id, 'w2', [{ index: 1, attempt: 2 }, { index: 3, attempt: 1 }])).toBe(2);
    expect(await runStatuses(db, id)).toEqual({ 0: 'succeeded', 1: 'queued', 2: 'failed', 3: 'queued' });
  });

  it('claims nothing in a cancelled or deleted sweep, and says which', async () => {
    const { id } = await insertSweep(db, smallSpec({ name: 'claim-cancelled' }));
    await db.query(`UPDATE sweeps SET status = 'cancelled' WHERE id = $1`, [id]);
    expect(await claimRuns(db, id, [0, 1], 'w1')).toEqual({ sweepStatus: 'cancelled', indexes: [], attempts: [] });
    expect(await runStatuses(db, id)).toEqual({ 0: 'queued', 1: 'queued', 2: 'queued', 3: 'queued' });
    expect((await sweepRow(db, id)).started_at).toBeNull();
    expect(await claimRuns(db, '00000000-0000-0000-0000-000000000000', [0], 'w1')).toEqual({ sweepStatus: undefined, indexes: [], attempts: [] });
  });

  it('leaves runs of a live worker alone, and lets a stale claim write nothing', async () => {
    const { id } = await insertSweep(db, smallSpec({ name: 'keyed' }));
    await heartbeat(db, 'live-w');
    await heartbeat(db, 'other');
    expect((await claimRuns(db, id, [0, 1], 'live-w')).indexes).toEqual([0, 1]);
    // Another worker (a redelivered duplicate job) neither sees nor takes them.
    expect((await openRuns(db, id, [0, 1, 2], 'other')).indexes).toEqual([2]);
    expect((await claimRuns(db, id, [0, 1, 2], 'other')).indexes).toEqual([2]);
    // The claimant itself may take them again (its job processed again after an outage).
    expect(await claimRuns(db, id, [0], 'live-w')).toMatchObject({ indexes: [0], attempts: [2] });
    // Once its heartbeat is old, it is dead: the reconciler puts its runs back to queued...
    await db.query(`UPDATE workers SET heartbeat_at = now() - interval '1 minute' WHERE id = 'live-w'`);
    const released = await releaseRunsOfDeadWorkers(db, 10_000);
    expect(released.filter((r) => r.sweepId === id).map((r) => r.index).sort()).toEqual([0, 1]);
    expect(await runStatuses(db, id)).toMatchObject({ 0: 'queued', 1: 'queued', 2: 'running' });
    // ... another worker takes them over and finishes one...
    await heartbeat(db, 'new-w');
    const taken = await claimRuns(db, id, [0, 1], 'new-w');
    expect(taken).toMatchObject({ indexes: [0, 1], attempts: [3, 2] });
    expect(await finishRunsFailed(db, id, 'new-w', [{ index: 0, attempt: 3, error: 'theirs' }])).toBe(1);
    // ... and the stale worker, back to life, writes nothing over it, nor over the run still in hand.
    expect(await finishRunsFailed(db, id, 'live-w', [{ index: 0, attempt: 2, error: 'stale' }, { index: 1, attempt: 1, error: 'stale' }])).toBe(0);
    expect(await finishRunsSucceeded(db, id, 'live-w', [{ index: 1, attempt: 1, resultId: '1', configHash: 'x', durationMs: 1, reused: false }])).toBe(0);
    expect(await requeueRuns(db, id, 'live-w', [{ index: 1, attempt: 1 }])).toBe(0);
    const { rows } = await db.query('SELECT index, status, error, worker, attempts FROM runs WHERE sweep_id = $1 AND index < 2 ORDER BY index', [id]);
    expect(rows).toEqual([
      { index: 0, status: 'failed', error: 'theirs', worker: 'new-w', attempts: 3 },
      { index: 1, status: 'running', error: null, worker: 'new-w', attempts: 2 },
    ]);
  });

  it('cancels runs only while the sweep is cancelled (a retry in between wins)', async () => {
    const { id } = await insertSweep(db, smallSpec({ name: 'cancel-race' }));
    await claimRuns(db, id, [0, 1], 'w1');
    expect(await cancelRunsIfSweepCancelled(db, id, [0, 1])).toBeNull();
    expect(await runStatuses(db, id)).toMatchObject({ 0: 'running', 1: 'running' });
    await db.query(`UPDATE sweeps SET status = 'cancelled' WHERE id = $1`, [id]);
    expect(await cancelRunsIfSweepCancelled(db, id, [0, 1, 2])).toBe(3);
    expect(await runStatuses(db, id)).toEqual({ 0: 'cancelled', 1: 'cancelled', 2: 'cancelled', 3: 'queued' });
    expect(await cancelRunsIfSweepCancelled(db, '00000000-0000-0000-0000-000000000000', [0])).toBeNull();
  });

  it('finishes a sweep once, when nothing is queued or running, among concurrent finishers', async () => {
    const { id } = await insertSweep(db, smallSpec({ name: 'finish' }));
    await claimRuns(db, id, [0, 1, 2, 3], 'w1');
    expect(await finishSweepIfDone(db, id)).toBeUndefined();
    await db.query(`UPDATE runs SET status = 'succeeded' WHERE sweep_id = $1 AND index < 3`, [id]);
    await db.query(`UPDATE runs SET status = 'failed' WHERE sweep_id = $1 AND index = 3`, [id]);
    const winners = (await Promise.all(Array.from({ length: 10 }, () => finishSweepIfDone(db, id)))).filter(Boolean);
    expect(winners).toEqual(['failed']);
    expect((await sweepRow(db, id)).finished_at).toBeInstanceOf(Date);
  });

  it('stores results once per (hash, core version), exactly, and names the row to every caller', async () => {
    const result = (hash: string, q: number, iterations: number): NewResult => {
      const config = { support: { kind: 'grid', min: -6, max: 6, n: 41 }, rewards: [{ kind: 'quadratic', center: -1 }, { kind: 'quadratic', center: 1 }], K: 'inf', q, iterations } as never;
      const out = simulate(config, {});
      return {
        configHash: hash, coreVersion: 'test-core', gitRevision: 'rev', config, summary: out.summary,
        trajectory: new Uint8Array(encodeTrajectory(out.trajectory)), generator: null, durationMs: 1.25,
      };
    };
    // Trajectories of different lengths, so a wrong cut of the shared blob would show.
    const a = result('hash-a', 0.3, 7);
    const b = result('hash-b', 0.6, 30);
    const first = await insertResults(db, [a, b]);
    expect([...first.keys()].sort()).toEqual(['hash-a', 'hash-b']);
    // Again, with one new: the known ones keep their ids, nothing is stored twice.
    const c = result('hash-c', 0.9, 3);
    const second = await insertResults(db, [b, c, a, c]);
    expect(second.get('hash-a')).toBe(first.get('hash-a'));
    expect(second.get('hash-b')).toBe(first.get('hash-b'));
    const { rows } = await db.query(
      `SELECT config_hash, config, summary, trajectory, nash_gap, final_entropy, converged_at, duration_ms
         FROM results WHERE core_version = 'test-core' ORDER BY config_hash`,
    );
    expect(rows.map((r) => r.config_hash)).toEqual(['hash-a', 'hash-b', 'hash-c']);
    for (const [k, r] of [a, b, c].entries()) {
      expect(rows[k].config).toEqual(r.config);
      expect(rows[k].summary).toEqual(r.summary);
      expect(decodeTrajectory(rows[k].trajectory)).toEqual(decodeTrajectory(r.trajectory));
      expect(rows[k].final_entropy).toBe(r.summary!.final.entropy); // float8 through JSON, bit for bit
      expect(rows[k].duration_ms).toBe(1.25);
    }
  });

  it('refuses a result with a non-finite number rather than storing it as null', async () => {
    const out = simulate({ support: { kind: 'grid', min: -6, max: 6, n: 41 }, rewards: [{ kind: 'quadratic', center: 0 }], K: 'inf', iterations: 3 } as never, {});
    const bad: NewResult = {
      configHash: 'hash-nan', coreVersion: 'test-core', gitRevision: 'rev', config: {}, summary: { ...out.summary, nashGap: Number.NaN },
      trajectory: new Uint8Array(encodeTrajectory(out.trajectory)), generator: null, durationMs: 1,
    };
    await expect(insertResults(db, [bad])).rejects.toThrow(/non-finite number/);
    expect((await db.query(`SELECT 1 FROM results WHERE config_hash = 'hash-nan'`)).rowCount).toBe(0);
  });
});
