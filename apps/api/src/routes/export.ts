// Exports of a sweep's runs, streamed (packages/db/src/export.ts reads them in keyset
// chunks, so memory stays flat for 100,000 runs):
//   GET /sweeps/:id/runs.csv      one row per run, axis variables and the flattened summary as columns
//   GET /sweeps/:id/runs.ndjson   one JSON object per line; ?trajectory=1 adds the decoded trajectory
import { Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply, RawServerDefault } from 'fastify';
import { Type } from '@sinclair/typebox';
import { SWEEP_STATUSES, csvChunks, exportFileStem, exportLayout, isUuid, ndjsonChunks, type RunStatus } from '@curation/db';
import type { TypeBoxProvider } from '../type-provider.ts';
import type { Deps } from '../deps.ts';
import { notFound } from '../errors.ts';
import { visibilityOf } from '../auth.ts';
import { SweepIdParams, errors } from '../schemas.ts';
import { badRequest } from '../stats-params.ts';

const StatusParam = Type.Unsafe<RunStatus>({
  type: 'string',
  enum: [...SWEEP_STATUSES],
  description: 'only runs in this state: queued | running | succeeded | failed | cancelled',
});

const Flag = Type.Unsafe<string>({ type: 'string', enum: ['0', '1', 'true', 'false'], description: '1 or true to include' });

const CsvQuery = Type.Object({
  status: Type.Optional(StatusParam),
  trajectory: Type.Optional(Flag),
});

const NdjsonQuery = Type.Object({
  status: Type.Optional(StatusParam),
  trajectory: Type.Optional({ ...Flag, description: '1 or true: add each succeeded run\'s decoded trajectory (rows of section 4)' }),
});

const on = (v: string | undefined) => v === '1' || v === 'true';

function stream(reply: FastifyReply, type: string, filename: string, body: AsyncGenerator<string>) {
  reply
    .header('content-type', type)
    .header('content-disposition', `attachment; filename="${filename}"`)
    .header('cache-control', 'no-store');
  // Byte mode with a small high-water mark: at most about one chunk of runs is buffered
  // ahead of a slow client, whatever the size of the sweep.
  return reply.send(Readable.from(body, { objectMode: false, highWaterMark: 64 * 1024 }));
}

export const exportRoutes: FastifyPluginAsync<Deps, RawServerDefault, TypeBoxProvider> = async (app, deps) => {
  const { pool } = deps;

  app.get('/sweeps/:id/runs.csv', {
    schema: {
      tags: ['results'],
      summary: 'All runs of a sweep as CSV (streamed)',
      description:
        'RFC 4180, header row: index, run_id, status, contract and core_version (which model contract and core computed ' +
        'the result), the axis variables (spec order), then every summary field under its one name, the same string as ' +
        'the stats metric and the plot value (summary.converged, summary.basinShare.0, summary.final.*, summary.audit.* ' +
        'for two rewards; GET /v1/sweeps/:id/fields lists them with labels), and error. Runs of every contract are listed. ' +
        'Empty cell for null, booleans as true/false, numbers at full precision. Loads with pandas.read_csv as is.',
      params: SweepIdParams,
      querystring: CsvQuery,
      response: {
        200: { description: 'CSV, one row per run in index order', content: { 'text/csv': { schema: { type: 'string' } } } },
        ...errors(400, 404),
      },
    },
  }, async (request, reply) => {
    const { id } = request.params;
    const vis = visibilityOf(request);
    if (on(request.query.trajectory)) throw badRequest('trajectories are only exported as NDJSON: use runs.ndjson?trajectory=1');
    const layout = isUuid(id) ? await exportLayout(pool, id, vis) : null;
    if (!layout) throw notFound('sweep', id);
    return stream(reply, 'text/csv; charset=utf-8', `${exportFileStem(layout, id)}.csv`,
      csvChunks(pool, id, layout, { status: request.query.status }));
  });

  app.get('/sweeps/:id/runs.ndjson', {
    schema: {
      tags: ['results'],
      summary: 'All runs of a sweep as NDJSON (streamed)',
      description:
        'One JSON object per line: index, runId, status, params, summary (null unless succeeded), contract and coreVersion ' +
        '(null unless succeeded), error, and with ?trajectory=1 the decoded trajectory (shareStep null in contract 1 rows).',
      params: SweepIdParams,
      querystring: NdjsonQuery,
      response: {
        200: { description: 'NDJSON, one run per line in index order', content: { 'application/x-ndjson': { schema: { type: 'string' } } } },
        ...errors(400, 404),
      },
    },
  }, async (request, reply) => {
    const { id } = request.params;
    const layout = isUuid(id) ? await exportLayout(pool, id, visibilityOf(request)) : null;
    if (!layout) throw notFound('sweep', id);
    return stream(reply, 'application/x-ndjson; charset=utf-8', `${exportFileStem(layout, id)}.ndjson`,
      ndjsonChunks(pool, id, { status: request.query.status, trajectory: on(request.query.trajectory) }));
  });
};
