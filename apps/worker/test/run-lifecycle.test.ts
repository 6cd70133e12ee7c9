import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { cancelRunsIfSweepCancelled, claimRuns, createPool, finishSweepIfDone, requeueRuns } from '@curation/db';
import { createTestDatabase, type TestDatabase } from '../../../test/support/services.ts';
import { insertSweep, runStatuses, smallSpec, sweepRow } from './helpers.ts';

describe('run lifecycle statements', () => {
  let tdb: TestDatabase;
  let db: pg.Pool;
  beforeAll(async () => { tdb = await createTestDatabase(); db = createPool(tdb.url, 12); });
  afterAll(async () => { await db?.end(); await tdb?.drop(); });

  it('claims queued or orphaned running runs only, and starts the sweep once', async () => {
    const { id } = await insertSweep(db, smallSpec({ name: 'claim' }));
    expect(await claimRuns(db, id, [0, 1], 'w1')).toEqual([0, 1]);
    const s = await sweepRow(db, id);
    expect(s.status).toBe('running');
    await db.query(`UPDATE runs SET status = 'succeeded' WHERE sweep_id = $1 AND index = 0`, [id]);
    await db.query(`UPDATE runs SET status = 'failed' WHERE sweep_id = $1 AND index = 2`, [id]);
    // 0 done, 1 orphaned running (reclaimed), 2 failed (left alone), 3 queued.
    expect(await claimRuns(db, id, [0, 1, 2, 3], 'w2')).toEqual([1, 3]);
    expect((await sweepRow(db, id)).started_at).toEqual(s.started_at);
    expect(await requeueRuns(db, id, [1, 3])).toBe(2);
    expect(await runStatuses(db, id)).toEqual({ 0: 'succeeded', 1: 'queued', 2: 'failed', 3: 'queued' });
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
});
