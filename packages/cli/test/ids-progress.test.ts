// Sweep id prefixes and how progress reads, with `sweep` spawned against a real API on a
// fresh database (no worker: the sweeps stay queued until cancelled).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../apps/api/src/app.ts';
import { createTestDatabase, createTestRedis, type TestDatabase } from '../../../test/support/services.ts';
import { runSweep, type ProcessResult as Result } from '../../../test/support/run-process.ts';
import { createKey, createTeam } from '@curation/db';
import { finalLine, progressText } from '../src/follow.ts';
import type { Sweep } from '../src/api-client.ts';



let db: TestDatabase;
let app: FastifyInstance;
let pool: pg.Pool;
let env: Record<string, string | undefined> = {};

function sweep(args: string[], input = ''): Promise<Result> {
  return runSweep(args, { env, input });
}

const SPEC = JSON.stringify({
  name: 'ids',
  base: { support: { kind: 'grid', min: -3, max: 3, n: 61 }, rewards: [{ kind: 'quadratic', center: -1 }, { kind: 'quadratic', center: 1 }], iterations: 20 },
  axes: [{ param: 'q', values: [0.2, 0.5, 0.8] }],
});

beforeAll(async () => {
  db = await createTestDatabase();
  const redis = await createTestRedis();
  app = await buildApp({ databaseUrl: db.url, redisUrl: redis.url, prefix: redis.prefix, logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  pool = new pg.Pool({ connectionString: db.url, max: 1 });
  const key = (await createKey(pool, (await createTeam(pool, 'ids')).id, { name: 'ids' })).key;
  env = { ...process.env, SWEEP_API: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, SWEEP_API_KEY: key };
});

afterAll(async () => {
  await pool?.end();
  await app?.close();
  await db?.drop();
});

describe('sweep id prefixes', () => {
  it('a unique prefix of 4 or more characters stands for the whole id; an ambiguous one lists the candidates', async () => {
    const a = (await sweep(['submit', '-'], SPEC)).stdout.trim();
    const status = await sweep(['status', a.slice(0, 8)]);
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^id\\s+${a}$`, 'm'));

    // A second sweep whose id shares the first 6 characters.
    const b = `${a.slice(0, 6)}${a[6] === '0' ? '1' : '0'}${a.slice(7)}`;
    await pool.query(
      `INSERT INTO sweeps (id, name, tags, spec, total, status, core_version, team_id, created_at)
       SELECT $1, 'twin', tags, spec, total, status, core_version, team_id, created_at + interval '1 second' FROM sweeps WHERE id = $2`,
      [b, a],
    );
    const created = (id: string) => sweep(['status', id, '--json']).then((r) => (JSON.parse(r.stdout) as Sweep).createdAt);
    const [ca, cb] = [await created(a), await created(b)];
    const amb = await sweep(['status', a.slice(0, 4)]);
    expect(amb.code).toBe(2);
    expect(amb.stderr).toBe(
      `error: ${a.slice(0, 4)} is ambiguous: 2 sweeps start with it: ${b} (twin, ${cb}), ${a} (ids, ${ca}); give more digits\n`,
    );
    // Longer prefixes tell them apart, for every command that takes an id.
    const cancel = await sweep(['cancel', b.slice(0, 7)]);
    expect(cancel.code).toBe(0);
    expect((await sweep(['status', a.slice(0, 7), '--json'])).stdout).toContain(`"id": "${a}"`);
  });

  it('a prefix no sweep has, or no prefix at all, is answered by the API as an unknown id (exit 3)', async () => {
    for (const id of ['ffff0000', 'nope']) {
      const r = await sweep(['status', id]);
      expect(r.code).toBe(3);
      expect(r.stderr).toBe(`error: sweep ${JSON.stringify(id)} not found (HTTP 404)\n`);
    }
  });
});

describe('progress', () => {
  it('a cancelled sweep is not "done": its runs show as cancelled; times carry their zone', async () => {
    const id = (await sweep(['submit', '-'], SPEC)).stdout.trim();
    expect((await sweep(['cancel', id])).code).toBe(0);
    const r = await sweep(['status', id]);
    expect(r.stdout).toMatch(/^progress\s+0\/3 done \(0%\), 3 cancelled$/m);
    expect(r.stdout).toMatch(/^created\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/m);
  });

  const sweepOf = (counts: Partial<Sweep['counts']> & { reused?: number }): Sweep => ({
    id: 'S', name: 'n', status: 'succeeded', createdAt: '2026-01-01T00:00:00.000Z',
    startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:00.400Z', etaSeconds: 0,
    counts: { total: 18, queued: 0, running: 0, succeeded: 18, failed: 0, cancelled: 0, ...counts },
  });

  it('reused results are named when the API counts them (counts.reused)', () => {
    expect(progressText(sweepOf({ reused: 18 }))).toBe('18/18 done (100%), 18 of 18 reused');
    expect(finalLine(sweepOf({ reused: 18 }))).toBe('sweep S succeeded: 18 succeeded, 0 failed, 0 cancelled of 18 in 0s; 18 of 18 reused from earlier results');
    expect(progressText(sweepOf({}))).toBe('18/18 done (100%)');
    expect(finalLine(sweepOf({ reused: 0 }))).toBe('sweep S succeeded: 18 succeeded, 0 failed, 0 cancelled of 18 in 0s');
    expect(progressText(sweepOf({ succeeded: 2, failed: 1, cancelled: 15 }))).toBe('3/18 done (16%), 15 cancelled');
  });
});
