// Cancel and retry (docs/service-design.md, "Cancel and retry").
import type { FastifyPluginAsync, RawServerDefault } from 'fastify';
import { FULL_VALIDATION_MAX, compileSweep } from '@curation/sweep-spec';
import { cancelChannel } from '@curation/queue';
import { cancelSweep, getSweep, getSweepWithSpec, retrySweep, revertRetry, runStatusCounts } from '@curation/db';
import type { TypeBoxProvider } from '../type-provider.ts';
import type { Deps } from '../deps.ts';
import { ApiError, notFound } from '../errors.ts';
import { isUuid } from '../cursor.ts';
import { sweepView } from '../views.ts';
import { costOf, jobsFor, maxJobIndexes, packBatches } from '../batches.ts';
import { ActionReply, SweepIdParams, errors } from '../schemas.ts';
import { redisReady } from '../redis-ready.ts';
import { visibilityOf } from '../auth.ts';
import { overBudgetError } from './sweeps.ts';
import type { Visibility } from '@curation/db';

export const actionRoutes: FastifyPluginAsync<Deps, RawServerDefault, TypeBoxProvider> = async (app, deps) => {
  const { pool, redis, queue, enqueuer, queuePrefix } = deps;

  const current = async (id: string, vis: Visibility, affected: number) => {
    const sweep = await getSweep(pool, id, vis);
    if (!sweep) throw notFound('sweep', id);
    const counts = await runStatusCounts(pool, [id]);
    return { ...sweepView(sweep, counts.get(id)), affected };
  };

  app.post('/sweeps/:id/cancel', {
    schema: {
      tags: ['sweeps'],
      summary: 'Cancel a sweep',
      description: 'Queued runs are cancelled at once (their rows are rewritten in the background; meanwhile they read as cancelled everywhere); running ones stop at their next generation boundary.',
      params: SweepIdParams,
      response: { 200: ActionReply, ...errors(404, 409) },
    },
  }, async (request) => {
    const { id } = request.params;
    const vis = visibilityOf(request);
    if (!isUuid(id)) throw notFound('sweep', id);
    const r = await cancelSweep(pool, id, vis);
    if (r.outcome === 'not_found') throw notFound('sweep', id);
    if (r.outcome === 'finished') throw new ApiError(409, `sweep ${id} is already ${r.status}; only queued or running sweeps can be cancelled`);
    enqueuer.cancelRuns(id);
    // Running runs stop when workers hear this; if it is lost they still find the sweep
    // cancelled in Postgres, so a Redis hiccup here must not fail the cancel.
    await redisReady(redis, 1000)
      .then(() => redis.publish(cancelChannel(queuePrefix), id))
      .catch((err) => request.log.warn({ err, sweepId: id }, 'cancel: publish failed'));
    return current(id, vis, r.cancelledRuns);
  });

  app.post('/sweeps/:id/retry', {
    schema: {
      tags: ['sweeps'],
      summary: 'Re-run the failed and cancelled configurations of a sweep',
      params: SweepIdParams,
      response: { 200: ActionReply, ...errors(404, 409, 422, 503) },
    },
  }, async (request) => {
    const { id } = request.params;
    const vis = visibilityOf(request);
    const sweep = isUuid(id) ? await getSweepWithSpec(pool, id, vis) : null;
    if (!sweep) throw notFound('sweep', id);
    const r = await retrySweep(pool, id, vis);
    if (r.outcome === 'not_found') throw notFound('sweep', id);
    if (r.outcome === 'over_budget') throw overBudgetError(r.overBudget);
    if (r.outcome === 'nothing') throw new ApiError(409, `sweep ${id} (${r.status}) has no failed or cancelled configurations to retry`);
    if (r.indexes.length) {
      // A new generation in the job ids: the first jobs of these indexes may still exist in BullMQ.
      const compiled = compileSweep(sweep.spec);
      // A sweep validated by a sample is packed by its mean estimate, as its enqueue was
      // (estimating each of a million configurations again would hold the answer for a minute).
      const sampled = !compiled.refine && sweep.total > FULL_VALIDATION_MAX;
      const mean = sweep.total > 0 ? sweep.estimatedCostSeconds / sweep.total : 0;
      const cost = sampled ? () => mean : (i: number) => costOf(compiled, i);
      const jobs = jobsFor(id, packBatches(cost, r.indexes, maxJobIndexes(r.indexes.length)), Date.now());
      try {
        await redisReady(redis, 2000);
        await queue.addBulk(jobs);
      } catch (err) {
        request.log.warn({ err, sweepId: id }, 'retry: could not queue jobs; reverting');
        await revertRetry(pool, id, r.indexes, r.before, 'retry could not be queued (Redis unavailable); retry again');
        throw new ApiError(503, 'the queue (Redis) is unavailable; nothing was retried, try again later');
      }
    }
    if (r.enqueuePending) enqueuer.kick(id);
    return current(id, vis, r.indexes.length);
  });
};
