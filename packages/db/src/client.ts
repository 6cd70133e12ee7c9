// Connections: one pg Pool per process (API, worker, CLI), and one Prisma Client bound
// to it through the pg driver adapter (no native engine), so both share the same
// connections. Ordinary reads and writes go through Prisma's model API; the set-based
// statements of the hot paths (unnest over arrays, row locks, aggregates) stay SQL.
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { Prisma, PrismaClient } from '../generated/prisma/client.ts';

export { Prisma, PrismaClient };

export function createPool(url: string, max = 10): pg.Pool {
  // A connect timeout keeps /ready and every request bounded when Postgres does not answer.
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 5000 });
  // An idle client losing its server must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  return pool;
}

const clients = new WeakMap<pg.Pool, PrismaClient>();

/**
 * The Prisma Client of this pool: one per pool, created on first use, running its
 * queries on the pool's connections. The pool stays the owner of the connections:
 * `pool.end()` closes them; the client needs no disconnect of its own.
 */
export function prismaFor(pool: pg.Pool): PrismaClient {
  let client = clients.get(pool);
  if (!client) {
    // The adapter shares a pool only if it is an instance of its own pg's Pool; anything
    // else it would take for a configuration and open a second pool.
    if (!(pool instanceof pg.Pool)) throw new TypeError('prismaFor needs a pg.Pool');
    client = new PrismaClient({ adapter: new PrismaPg(pool) });
    clients.set(pool, client);
  }
  return client;
}

/** Postgres' error code behind an error thrown by Prisma Client or by pg ('23505' for a unique violation). */
export function pgErrorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } } };
  if (err instanceof Prisma.PrismaClientKnownRequestError) {
    if (e.code === 'P2002') return '23505';
    const original = e.meta?.driverAdapterError?.cause?.originalCode;
    if (typeof original === 'string') return original;
  }
  return typeof e?.code === 'string' ? e.code : undefined;
}
