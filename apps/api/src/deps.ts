// What the route modules share, passed to them as plugin options.
import type pg from 'pg';
import type { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import type { SweepLimits } from '@curation/sweep-spec';
import type { Enqueuer } from './enqueuer.ts';

export interface Deps {
  /** The API's one pool; its Prisma Client (prismaFor(pool), packages/db) runs on the same connections. */
  pool: pg.Pool;
  redis: Redis;
  queue: Queue;
  enqueuer: Enqueuer;
  limits: SweepLimits;
  /** BullMQ prefix (not `prefix`: Fastify reads that plugin option as a route prefix). */
  queuePrefix: string;
}
