// Connections: Prisma (through the pg driver adapter, no native engine) for ordinary
// reads and writes, and a plain pg Pool for the batch statements of the hot paths
// (unnest over arrays: one round trip per batch) and the aggregates Prisma cannot express.
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.ts';

export type { PrismaClient };

export function createPrisma(url: string): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
}

export function createPool(url: string, max = 10): pg.Pool {
  // A connect timeout keeps /ready and every request bounded when Postgres does not answer.
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 5000 });
  // An idle client losing its server must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  return pool;
}
