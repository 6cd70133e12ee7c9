// Shared set-up of the API tests: a fresh database and BullMQ prefix per file, apps
// built against them, teams with API keys, and sweep specs of any size.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { createRedis } from '@curation/queue';
import { createKey, createTeam } from '@curation/db';
import { createTestDatabase, createTestRedis, type TestDatabase } from '../../../test/support/services.ts';
import { buildApp, type BuildAppOptions } from '../src/app.ts';

/** A fresh team and one of its keys, with the header that sends it. */
export interface TeamKey {
  teamId: string;
  teamName: string;
  keyId: string;
  key: string;
  headers: { authorization: string };
}

/** Creates a team (unique name) and a key for it. */
export async function createTeamKey(
  pool: pg.Pool,
  o: { name?: string; budgetSeconds?: number | null; admin?: boolean } = {},
): Promise<TeamKey> {
  const team = await createTeam(pool, o.name ?? `team-${randomBytes(4).toString('hex')}`, { computeBudgetSeconds: o.budgetSeconds ?? null });
  const { key, info } = await createKey(pool, team.id, { name: 'test', role: o.admin ? 'admin' : 'member' });
  return { teamId: team.id, teamName: team.name, keyId: info.id, key, headers: { authorization: `Bearer ${key}` } };
}

export interface Env {
  db: TestDatabase;
  redisUrl: string;
  prefix: string;
  pool: pg.Pool;
  queue: Queue;
  apps: FastifyInstance[];
  app: (extra?: Partial<BuildAppOptions>) => Promise<FastifyInstance>;
  /** A fresh team with a member key (or an admin key with `admin: true`). */
  team: (o?: { name?: string; budgetSeconds?: number | null; admin?: boolean }) => Promise<TeamKey>;
  close: () => Promise<void>;
}

export async function setup(): Promise<Env> {
  const db = await createTestDatabase();
  const { url: redisUrl, prefix } = await createTestRedis();
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  // pool.end() does not wait for the sockets to close; the database's DROP ... WITH (FORCE)
  // may then terminate one, which an idle client reports as a pool error.
  pool.on('error', () => {});
  const queue = new Queue('runs', { connection: createRedis(redisUrl), prefix });
  const apps: FastifyInstance[] = [];
  return {
    db, redisUrl, prefix, pool, queue, apps,
    team: (o = {}) => createTeamKey(pool, o),
    app: async (extra = {}) => {
      const a = await buildApp({ databaseUrl: db.url, redisUrl, prefix, logger: false, ...extra });
      apps.push(a);
      await a.ready();
      return a;
    },
    close: async () => {
      await Promise.allSettled(apps.map((a) => a.close()));
      await queue.obliterate({ force: true }).catch(() => {});
      const conn = await queue.client;
      await queue.close();
      conn.disconnect();
      await pool.end();
      await db.drop();
    },
  };
}

/** A cheap two-reward configuration (a few hundred atoms, few generations). */
export const BASE = {
  support: { kind: 'grid', min: -3, max: 3, n: 61 },
  rewards: [{ kind: 'quadratic', center: -1 }, { kind: 'quadratic', center: 1 }],
  q: 0.5,
  iterations: 20,
};

/** A sweep of a x b configurations over q and beta. */
export function spec(a = 3, b = 2, extra: Record<string, unknown> = {}) {
  return {
    name: `test sweep ${a}x${b}`,
    tags: ['test'],
    base: BASE,
    axes: [
      { param: 'q', linspace: [0.1, 0.9, a] },
      { param: 'beta', linspace: [0.5, 2, b] },
    ],
    ...extra,
  };
}

