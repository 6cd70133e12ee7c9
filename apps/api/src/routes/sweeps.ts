// Submitting, listing and reading sweeps.
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, RawServerDefault } from 'fastify';
import { CORE_VERSION } from '@curation/core';
import { SpecError, compileSweep, validateSweep } from '@curation/sweep-spec';
import {
  findSweepByIdempotencyKey, getSweepWithSpec, insertSweep, listSweeps, runStatusCounts, type OverBudget, type SweepRow,
} from '@curation/db';
import type { TypeBoxProvider } from '../type-provider.ts';
import type { Deps } from '../deps.ts';
import { ApiError, issuesMessage, notFound } from '../errors.ts';
import { decodeSweepCursor, encodeSweepCursor, isUuid } from '../cursor.ts';
import { teamOf, visibilityOf } from '../auth.ts';
import { sweepView } from '../views.ts';
import {
  ListSweepsQuery, SubmitHeaders, SubmitReply, SweepIdParams, SweepPage, SweepDetailSchema, SweepSpecSchema, errors,
} from '../schemas.ts';

const seconds = (s: number) => `${Number(s.toPrecision(4))} s`;

/** 422: the team's compute budget cannot hold the sweep (numbers in the message and the body). */
export function overBudgetError(o: OverBudget): ApiError {
  const message =
    `compute budget exceeded: this sweep needs an estimated ${seconds(o.requestedSeconds)} of compute, and the team has ` +
    `used ${seconds(o.usedSeconds)} of its budget of ${seconds(o.budgetSeconds)} ` +
    `(${seconds(Math.max(0, o.budgetSeconds - o.usedSeconds))} left; a cancelled sweep counts only the runs it computed)`;
  return new ApiError(422, message, [{ path: '', message }], { extra: { budget: o } });
}

/**
 * A body that failed the schema: the compiler's issues when it refuses the body too (the
 * schema's JSON Schema messages only say which keyword failed), else the schema's error.
 */
function specIssuesOr(body: unknown, schemaError: Error & { validationContext?: string }): Error {
  if (schemaError.validationContext !== 'body') return schemaError;
  try {
    compileSweep(body);
  } catch (err) {
    if (err instanceof SpecError) return new ApiError(400, issuesMessage('invalid sweep specification', err.issues), err.issues);
  }
  return schemaError;
}

export const sweepRoutes: FastifyPluginAsync<Deps, RawServerDefault, TypeBoxProvider> = async (app, deps) => {
  const { pool, enqueuer, limits } = deps;

  /** A repeat of an Idempotency-Key: the first sweep, unless the key now comes with another spec. */
  const replay = (reply: FastifyReply, key: string, sweep: SweepRow, sameSpec: boolean) => {
    if (!sameSpec) {
      throw new ApiError(409, `Idempotency-Key ${JSON.stringify(key)} was already used for sweep ${sweep.id} with a different specification`);
    }
    return reply.code(200).header('idempotent-replayed', 'true').header('location', `/v1/sweeps/${sweep.id}`)
      .send({ id: sweep.id, total: sweep.total, status: sweep.status });
  };

  app.post('/sweeps', {
    // A body the schema refuses is also given to the spec compiler (below), whose issues
    // say more: the allowed fields, "did you mean", what was found.
    attachValidation: true,
    schema: {
      tags: ['sweeps'],
      summary: 'Submit a sweep (JSON, or YAML with Content-Type: application/yaml)',
      description:
        'Validates the specification and the configurations it expands to (every one up to 20,000; above, the axes\' ' +
        'corners and a fixed sample of 4,096, the others failing as runs with the reason), stores the sweep and answers ' +
        'at once; run rows and jobs are added in the background (see `enqueued`). Structural errors are 400, ' +
        'configuration problems and exceeded limits 422 with the configuration index.',
      consumes: ['application/json', 'application/yaml', 'text/yaml'],
      headers: SubmitHeaders,
      body: SweepSpecSchema,
      response: { 201: SubmitReply, 200: SubmitReply, ...errors(400, 401, 409, 413, 415, 422, 429) },
    },
  }, async (request, reply) => {
    if (request.validationError) throw specIssuesOr(request.body, request.validationError);
    const spec = request.body;
    const teamId = teamOf(request);
    const key = request.headers['idempotency-key'] ?? null;
    if (key !== null) {
      // Skip revalidating for a plain retry of the same request.
      const prior = await findSweepByIdempotencyKey(pool, teamId, key, spec);
      if (prior) return replay(reply, key, prior.sweep, prior.sameSpec);
    }
    const checked = validateSweep(spec, limits);
    if (!checked.ok) throw new ApiError(422, issuesMessage('invalid sweep specification', checked.issues), checked.issues);
    const inserted = await insertSweep(pool, {
      id: randomUUID(),
      name: spec.name,
      tags: spec.tags ?? [],
      spec,
      total: checked.compiled.total,
      coreVersion: CORE_VERSION,
      idempotencyKey: key,
      teamId,
      estimatedCostSeconds: checked.cost.totalSeconds,
    });
    if ('overBudget' in inserted) throw overBudgetError(inserted.overBudget);
    if (!inserted.created) return replay(reply, key!, inserted.sweep, inserted.sameSpec);
    const { sweep } = inserted;
    enqueuer.kick(sweep.id, checked.cost.perConfig);
    return reply.code(201).header('location', `/v1/sweeps/${sweep.id}`)
      .send({ id: sweep.id, total: sweep.total, status: sweep.status });
  });

  app.get('/sweeps', {
    schema: {
      tags: ['sweeps'],
      summary: 'List sweeps, newest first',
      querystring: ListSweepsQuery,
      response: { 200: SweepPage, ...errors(400) },
    },
  }, async (request) => {
    const q = request.query;
    const page = await listSweeps(pool, {
      visibility: visibilityOf(request),
      limit: q.limit ?? 20,
      after: q.cursor ? decodeSweepCursor(q.cursor) : null,
      tag: q.tag,
      status: q.status,
    });
    const counts = await runStatusCounts(pool, page.items.map((s) => s.id));
    return {
      items: page.items.map((s) => sweepView(s, counts.get(s.id))),
      nextCursor: page.next ? encodeSweepCursor(page.next) : null,
    };
  });

  app.get('/sweeps/:id', {
    schema: {
      tags: ['sweeps'],
      summary: 'One sweep with its progress and its specification',
      params: SweepIdParams,
      response: { 200: SweepDetailSchema, ...errors(404) },
    },
  }, async (request) => {
    const { id } = request.params;
    if (!isUuid(id)) throw notFound('sweep', id);
    // The poll of every dashboard and `--follow`: both reads at once. The counts of a sweep
    // the caller may not see are read and dropped, never shown.
    const [sweep, counts] = await Promise.all([getSweepWithSpec(pool, id, visibilityOf(request)), runStatusCounts(pool, [id])]);
    if (!sweep) throw notFound('sweep', id);
    return { ...sweepView(sweep, counts.get(id)), spec: sweep.spec as Record<string, unknown> };
  });
};
