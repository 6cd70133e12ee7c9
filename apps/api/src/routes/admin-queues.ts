// bull-board, the BullMQ operators' UI, at /admin/queues: queue depth, failed jobs and
// their stack traces, retries by hand.
import type { FastifyPluginAsync } from 'fastify';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Deps } from '../deps.ts';

export const ADMIN_QUEUES_PATH = '/admin/queues';

export const adminQueuesRoutes: FastifyPluginAsync<Deps> = async (app, deps) => {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(ADMIN_QUEUES_PATH);
  createBullBoard({ queues: [new BullMQAdapter(deps.queue, { readOnlyMode: false })], serverAdapter });
  await app.register(serverAdapter.registerPlugin(), { prefix: ADMIN_QUEUES_PATH });
};
