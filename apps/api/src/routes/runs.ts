// Runs of a sweep, page by page, and one run with its whole trajectory.
import type { FastifyPluginAsync, RawServerDefault } from 'fastify';
import { compileSweep } from '@curation/sweep-spec';
import { decodeTrajectory, getRunDetail, getSweep, getSweepWithSpec, listRuns, prismaQueryableFor } from '@curation/db';
import type { TypeBoxProvider } from '../type-provider.ts';
import type { Deps } from '../deps.ts';
import { notFound } from '../errors.ts';
import { decodeRunCursor, encodeRunCursor, isRunId, isUuid } from '../cursor.ts';
import { runView } from '../views.ts';
import { visibilityOf } from '../auth.ts';
import { ListRunsQuery, RunDetailSchema, RunIdParams, RunPage, SweepIdParams, errors } from '../schemas.ts';

export const runRoutes: FastifyPluginAsync<Deps, RawServerDefault, TypeBoxProvider> = async (app, deps) => {
  const { pool } = deps;
  // Run pages and run detail go through Prisma Client as SQL ($queryRaw): a keyset page
  // with the status as users see it (runStatusSql) is one statement the model API cannot say.
  const sql = prismaQueryableFor(pool);

  app.get('/sweeps/:id/runs', {
    schema: {
      tags: ['runs'],
      summary: 'Runs of a sweep in index order',
      description: 'Only configurations already enqueued have runs (see the sweep\'s `enqueued`).',
      params: SweepIdParams,
      querystring: ListRunsQuery,
      response: { 200: RunPage, ...errors(400, 404) },
    },
  }, async (request) => {
    const { id } = request.params;
    const q = request.query;
    const afterIndex = q.cursor !== undefined ? decodeRunCursor(q.cursor) : undefined;
    if (!isUuid(id) || !(await getSweep(pool, id, visibilityOf(request)))) throw notFound('sweep', id);
    const page = await listRuns(sql, id, { status: q.status, afterIndex, limit: q.limit ?? 100 });
    return {
      items: page.items.map(runView),
      nextCursor: page.nextIndex === null ? null : encodeRunCursor(page.nextIndex),
    };
  });

  app.get('/runs/:id', {
    schema: {
      tags: ['runs'],
      summary: 'One run with its configuration, provenance and whole trajectory',
      params: RunIdParams,
      response: { 200: RunDetailSchema, ...errors(404) },
    },
  }, async (request) => {
    const { id } = request.params;
    const vis = visibilityOf(request);
    const run = isRunId(id) ? await getRunDetail(sql, id, vis) : null;
    if (!run) throw notFound('run', id);
    let config = run.config;
    if (config == null) {
      // No result yet: rebuild the configuration the way the worker does.
      const sweep = await getSweepWithSpec(pool, run.sweepId, vis);
      try {
        config = sweep ? compileSweep(sweep.spec).configAt(run.index) : null;
      } catch {
        config = null;
      }
    }
    return {
      ...runView(run),
      sweepId: run.sweepId,
      config: (config ?? null) as Record<string, unknown> | null,
      configHash: run.configHash,
      coreVersion: run.coreVersion,
      contract: run.contract,
      gitRevision: run.gitRevision,
      generator: run.generator,
      durationMs: run.durationMs,
      reused: run.reused,
      trajectory: run.trajectory ? decodeTrajectory(run.trajectory) : null,
    };
  });
};
