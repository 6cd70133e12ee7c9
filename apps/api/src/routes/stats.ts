// Aggregates over results, computed in Postgres (packages/db/src/stats.ts):
//   GET /sweeps/:id/stats?groupBy=q,D&metrics=summary.basinShare.0,summary.nashGap&where=q>=0.3
//   GET /stats?tag=c4            one line per sweep with the tag (a team's history)
//   GET /sweeps/:id/fields       the names a person types: axis variables and summary fields, with labels
//
// Every reply aggregates the results of one model contract (the newest the sweep has, or
// ?contract=) and says which: results of two contracts are never aggregated together.
import type { FastifyPluginAsync, RawServerDefault } from 'fastify';
import { Type } from '@sinclair/typebox';
import { FILTER_OPS, SUMMARY_FIELD_HELP, exportLayout, isUuid, parseWhere, summaryFields, sweepStats, sweepsByTag } from '@curation/db';
import type { TypeBoxProvider } from '../type-provider.ts';
import type { Deps } from '../deps.ts';
import { notFound } from '../errors.ts';
import { visibilityOf } from '../auth.ts';
import { Nullable, SweepIdParams, errors } from '../schemas.ts';
import { ContractParam, ListParam, listOf } from '../stats-params.ts';

// ---- schemas

const METRICS_HELP = `comma-separated summary fields (or repeated), default summary.basinShare.0,summary.nashGap; any of ${SUMMARY_FIELD_HELP}`;
const WHERE_HELP =
  `filters joined by ; (or repeated): <field><op><value>, field an axis variable or a summary field, op one of ${FILTER_OPS.join(' ')}, ` +
  'value a number, true, false, null or a string, e.g. q>=0.3;summary.collapsed=false;D!=2';

export const DEFAULT_METRICS = ['summary.basinShare.0', 'summary.nashGap'];

const StatsQuery = Type.Object({
  groupBy: Type.Optional(ListParam('comma-separated axis variables to group by (or repeated); none: one group of all succeeded runs')),
  metrics: Type.Optional(ListParam(METRICS_HELP)),
  where: Type.Optional(ListParam(WHERE_HELP)),
  contract: ContractParam,
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'at most this many groups (a page; default all); groupCount says how many there are' })),
  offset: Type.Optional(Type.Integer({ minimum: 0, default: 0, description: 'skip this many groups first (with limit: the next page)' })),
});

// A number or null as one JSON type list, not an anyOf: the serializer then writes each
// value without trying the branches, which is most of the time of a 10,000-group reply.
const NullNumber = (o: { description?: string } = {}) => Type.Unsafe<number | null>({ type: ['number', 'null'], ...o });
const N = NullNumber();
const MetricStatsSchema = Type.Object({
  count: Type.Integer({ description: 'runs of the group where the metric is not null' }),
  mean: N,
  std: NullNumber({ description: 'sample standard deviation (n - 1), null below 2 values' }),
  min: N,
  p10: NullNumber({ description: 'percentiles interpolate linearly (percentile_cont)' }),
  median: N,
  p90: N,
  max: N,
  meanSquare: NullNumber({ description: 'mean of the squares (e.g. mean squared Nash gap)' }),
  rms: NullNumber({ description: 'root mean square, sqrt(meanSquare)' }),
});

const CoreVersions = Type.Array(Type.String(), { description: 'the core versions that computed the aggregated results' });
const OtherContractsSchema = Type.Array(
  Type.Object({ contract: Type.Integer(), runs: Type.Integer(), coreVersions: Type.Array(Type.String()) }),
  { description: 'succeeded runs of other contracts, left out (never aggregated with this one)' },
);

const Scalar = Type.Union([Type.Number(), Type.Boolean(), Type.String(), Type.Null()]);
const FilterSchema = Type.Object({ field: Type.String(), op: Type.String(), value: Scalar });

const StatsGroupSchema = Type.Object({
  key: Type.Object({}, { additionalProperties: true, description: 'groupBy variable -> value' }),
  n: Type.Integer({ description: 'succeeded runs in the group (replicates/seeds fall inside a group)' }),
  runId: Nullable(Type.String({ description: 'the run, when the group holds exactly one' })),
  firstRunId: Type.String({ description: "the group's first stored run (lowest id), to show for the group" }),
  contract: Type.Integer({ description: 'the model contract of the aggregated results' }),
  coreVersions: CoreVersions,
  metrics: Type.Record(Type.String(), MetricStatsSchema),
  collapsedRate: N,
  convergedRate: N,
  inIntervalRate: NullNumber({ description: 'rate of summary.audit.inInterval over runs that have an audit (m = 2)' }),
  meanConvergedAt: NullNumber({ description: 'mean of summary.convergedAt over the runs that converged' }),
});

const StatsReply = Type.Object({
  sweepId: Type.String(),
  groupBy: Type.Array(Type.String()),
  metrics: Type.Array(Type.String()),
  where: Type.Array(FilterSchema),
  variables: Type.Array(Type.String({ description: "the sweep's axis variables" })),
  contract: Nullable(Type.Integer({ description: 'the model contract every group aggregates (null when no run matched)' })),
  coreVersions: CoreVersions,
  otherContracts: OtherContractsSchema,
  groupCount: Type.Integer({ description: 'groups of this contract in all (groups is the page asked for with limit and offset)' }),
  groups: Type.Array(StatsGroupSchema, { description: 'ordered by the group values (numeric order for numbers)' }),
});

const TagQuery = Type.Object({
  tag: Type.String({ minLength: 1, description: 'sweeps carrying this tag' }),
  metrics: Type.Optional(ListParam(`extra summary fields to average per sweep (mean, sd); any of ${SUMMARY_FIELD_HELP}`)),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200, description: 'at most this many sweeps, oldest first' })),
  contract: ContractParam,
});

const TagSweepSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  status: Type.String(),
  total: Type.Integer(),
  succeeded: Type.Integer(),
  failed: Type.Integer(),
  contract: Nullable(Type.Integer({ description: 'the model contract the rates and metrics aggregate (null: no succeeded run)' })),
  coreVersions: CoreVersions,
  otherContracts: OtherContractsSchema,
  collapsedRate: N,
  convergedRate: N,
  inIntervalRate: N,
  meanNashGap: N,
  meanConvergedAt: N,
  metrics: Type.Record(Type.String(), Type.Object({ count: Type.Integer(), mean: N, std: N, meanSquare: N, rms: N })),
});

const FieldSchema = Type.Object({
  name: Type.String({ description: 'the one name of the quantity: stats metric, where field, plot value and CSV column' }),
  label: Type.String({ description: 'human-facing label; a per-reward field names its reward (index 0 is reward 1)' }),
  kind: Type.Union([Type.Literal('number'), Type.Literal('boolean'), Type.Literal('variable')]),
});
const FieldsReply = Type.Object({
  m: Type.Integer({ description: 'rewards per run (the length of basinShare)' }),
  variables: Type.Array(Type.String(), { description: 'axis variables, then derived parameters: groupBy, where, x, y, series' }),
  axisVariables: Type.Array(Type.String(), { description: "the spec's axis variables only, in axis order (the first of variables)" }),
  fields: Type.Array(FieldSchema),
});

const TagReply = Type.Object({ tag: Type.String(), sweeps: Type.Array(TagSweepSchema) });

export const statsRoutes: FastifyPluginAsync<Deps, RawServerDefault, TypeBoxProvider> = async (app, deps) => {
  const { pool } = deps;

  app.get('/sweeps/:id/stats', {
    schema: {
      tags: ['results'],
      summary: 'Aggregates of a sweep\'s succeeded runs grouped by axis variables',
      description:
        'For each group and metric: count, mean, sample sd, min, p10, median, p90, max; per group the rates of ' +
        'collapsed, converged and audit.inInterval and the mean convergedAt. Seeds fall inside a group, so this is ' +
        'the mean and spread over seeds; meanSquare and rms give e.g. the mean squared Nash gap. Only the results of ' +
        'one model contract are aggregated (`contract`, the newest by default); the reply names it with the core ' +
        'versions, and counts the left-out runs of other contracts in otherContracts. Computed in Postgres.',
      params: SweepIdParams,
      querystring: StatsQuery,
      response: { 200: StatsReply, ...errors(400, 404) },
    },
  }, async (request, reply) => {
    const { id } = request.params;
    const q = request.query;
    const metrics = q.metrics === undefined ? DEFAULT_METRICS : listOf(q.metrics);
    const where = parseWhere(q.where);
    const stats = await sweepStats(pool, id, {
      groupBy: listOf(q.groupBy), metrics, where, contract: q.contract, visibility: visibilityOf(request), limit: q.limit, offset: q.offset,
    });
    if (!stats) throw notFound('sweep', id);
    // The reply is built to the schema's shape (packages/db/src/stats.ts); the schema's
    // serializer writes a many-group reply several times slower than JSON.stringify.
    if (stats.groups.length > 1000) reply.serializer(JSON.stringify);
    return stats;
  });

  app.get('/stats', {
    schema: {
      tags: ['results'],
      summary: 'Compare the sweeps that share a tag',
      description:
        'One line per sweep with the tag, oldest first: counts, rates of collapsed/converged/inInterval, mean nashGap and convergedAt, ' +
        "over the results of one model contract per sweep (`contract`, else the sweep's newest), named in each line.",
      querystring: TagQuery,
      response: { 200: TagReply, ...errors(400) },
    },
  }, async (request) => {
    const q = request.query;
    const sweeps = await sweepsByTag(pool, q.tag, { metrics: listOf(q.metrics), limit: q.limit, contract: q.contract, visibility: visibilityOf(request) });
    return { tag: q.tag, sweeps: sweeps.map((s) => ({ ...s, createdAt: s.createdAt.toISOString() })) };
  });

  app.get('/sweeps/:id/fields', {
    schema: {
      tags: ['results'],
      summary: 'The names of a sweep\'s quantities, with labels',
      description:
        'Axis variables, then every summary field of a run with this sweep\'s number of rewards: the strings that stats ' +
        'metrics, where filters, plot values and CSV columns all use, each with its human-facing label.',
      params: SweepIdParams,
      response: { 200: FieldsReply, ...errors(404) },
    },
  }, async (request) => {
    const { id } = request.params;
    const layout = isUuid(id) ? await exportLayout(pool, id, visibilityOf(request)) : null;
    if (!layout) throw notFound('sweep', id);
    return {
      m: layout.m,
      variables: layout.variables,
      axisVariables: layout.axisVariables,
      fields: [
        ...layout.variables.map((v) => ({ name: v, label: v, kind: 'variable' as const })),
        ...summaryFields(layout.m).map((f) => ({ name: f.name, label: f.label, kind: f.kind })),
      ],
    };
  });
};
