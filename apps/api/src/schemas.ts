// Every request and response shape, once: Fastify validates requests with these (AJV),
// @fastify/swagger turns them into the OpenAPI document, and handlers get their types.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { SWEEP_STATUSES, type SweepStatus } from '@curation/db';

export { SweepSpecSchema } from '@curation/sweep-spec';

/** A string enum as one JSON Schema `enum` (one clear AJV error, not one per literal). */
const StringEnum = <T extends string>(values: readonly T[], description: string) =>
  Type.Unsafe<T>({ type: 'string', enum: [...values], description });

export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

const Timestamp = Type.String({ format: 'date-time' });

export const StatusSchema = StringEnum<SweepStatus>(SWEEP_STATUSES, 'queued | running | succeeded | failed | cancelled');

export const IssueSchema = Type.Object({
  path: Type.String({ description: 'JSON pointer: into the body, or /querystring/..., /params/..., /headers/...; for a configuration problem, into that configuration' }),
  message: Type.String(),
  index: Type.Optional(Type.Integer({ description: 'index of the offending configuration' })),
});

export const ErrorSchema = Type.Object(
  {
    statusCode: Type.Integer(),
    error: Type.String(),
    message: Type.String(),
    issues: Type.Optional(Type.Array(IssueSchema)),
  },
  { description: 'Every error response; some carry more fields (e.g. a refused budget its numbers)', additionalProperties: true },
);

/** Error responses a route may give, for the docs (and so the serializer keeps `issues`). */
export const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ErrorSchema]));

export const SweepIdParams = Type.Object({ id: Type.String({ description: 'sweep id (uuid); anything else is a 404' }) });
export const RunIdParams = Type.Object({ id: Type.String({ description: 'run id (decimal integer); anything else is a 404' }) });

export const SubmitHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({ minLength: 1, maxLength: 255, description: 'A repeat with the same key returns the first sweep (200) instead of creating another' }),
  ),
});

export const SubmitReply = Type.Object({
  id: Type.String({ format: 'uuid' }),
  total: Type.Integer({ description: 'number of configurations' }),
  status: StatusSchema,
});

export const CountsSchema = Type.Object({
  total: Type.Integer(),
  queued: Type.Integer({ description: 'includes configurations not enqueued yet' }),
  running: Type.Integer(),
  succeeded: Type.Integer(),
  failed: Type.Integer(),
  cancelled: Type.Integer(),
  reused: Type.Integer({ description: 'succeeded runs that took a stored result (same configuration and core version) instead of computing' }),
});

export const SweepSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  tags: Type.Array(Type.String()),
  status: StatusSchema,
  counts: CountsSchema,
  enqueued: Type.Integer({ description: 'configurations with a run row and a queued job so far' }),
  coreVersion: Type.String(),
  createdAt: Timestamp,
  startedAt: Nullable(Timestamp),
  finishedAt: Nullable(Timestamp),
  etaSeconds: Nullable(Type.Number({ description: 'from the completion rate since startedAt; null before the first finished run and once finished' })),
  refine: Type.Optional(Type.Object({
    stage: Type.Integer({ description: 'the current refinement stage (0 = the starting grid)' }),
    done: Type.Boolean({ description: 'no stage follows: total will not grow any more' }),
    budget: Type.Integer({ description: 'most runs the sweep may reach; counts.total is the runs so far' }),
  }, { description: 'adaptive (refine) sweeps only' })),
});
export type SweepView = Static<typeof SweepSchema>;

export const ListSweepsQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  cursor: Type.Optional(Type.String({ description: 'nextCursor of the previous page' })),
  tag: Type.Optional(Type.String({ minLength: 1 })),
  status: Type.Optional(StatusSchema),
});

const Loose = (description: string) => Type.Object({}, { additionalProperties: true, description });

export const SweepPage = Type.Object({
  items: Type.Array(SweepSchema),
  nextCursor: Nullable(Type.String()),
});

/** One sweep with the specification it was submitted with (GET /sweeps/:id). */
export const SweepDetailSchema = Type.Composite([
  SweepSchema,
  Type.Object({ spec: Loose('the sweep specification as submitted (JSON form)') }),
]);

export const RunSchema = Type.Object({
  id: Type.String({ description: 'run id' }),
  index: Type.Integer({ description: 'configuration index in the sweep' }),
  params: Loose('the axis values of this configuration: variable -> value'),
  status: StatusSchema,
  summary: Nullable(Loose('section 5 of the model contract (converged, final, basinShare, nashGap, ...); null until succeeded')),
  error: Nullable(Type.String()),
  attempts: Type.Integer(),
  startedAt: Nullable(Timestamp),
  finishedAt: Nullable(Timestamp),
});
export type RunView = Static<typeof RunSchema>;

export const ListRunsQuery = Type.Object({
  status: Type.Optional(StatusSchema),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  cursor: Type.Optional(Type.String({ description: 'nextCursor of the previous page' })),
});

export const RunPage = Type.Object({
  items: Type.Array(RunSchema),
  nextCursor: Nullable(Type.String()),
});

const N = Type.Number();
/** One recorded generation (section 4 of the model contract). */
export const TrajectoryRowSchema = Type.Object({
  t: Type.Integer(),
  entropy: N,
  effectiveSupport: N,
  mass: Type.Array(N, { description: 'mass of each basin' }),
  outside: N,
  meanReward: Type.Array(N),
  varReward: Type.Array(N),
  step: Nullable(Type.Number({ description: 'total variation between this generation and the previous; null at t = 0' })),
  shareStep: Nullable(Type.Number({ description: 'max |M_t - M_(t-1)| over the basin masses and outside; null at t = 0 and in contract 1 results' })),
}, { additionalProperties: true, description: 'one recorded generation' });

export const RunDetailSchema = Type.Composite([
  RunSchema,
  Type.Object({
    sweepId: Type.String({ format: 'uuid' }),
    config: Nullable(Loose('the configuration as run (from the result, else rebuilt from the sweep spec)')),
    configHash: Nullable(Type.String()),
    coreVersion: Nullable(Type.String({ description: 'the core version that computed the result; null until succeeded' })),
    contract: Nullable(Type.Integer({ description: 'the model contract of the result (the major number of coreVersion); null until succeeded' })),
    gitRevision: Nullable(Type.String()),
    generator: Nullable(Type.String()),
    durationMs: Nullable(Type.Number({ description: "this run's own compute time; null when it reused a stored result" })),
    reused: Type.Boolean({ description: 'served from a stored result (RESULT_CACHE_SCOPE) instead of computed' }),
    trajectory: Nullable(Type.Array(TrajectoryRowSchema)),
  }),
]);
export type RunDetailView = Static<typeof RunDetailSchema>;

export const ActionReply = Type.Composite([
  SweepSchema,
  Type.Object({ affected: Type.Integer({ description: 'runs cancelled, or runs put back in the queue' }) }),
]);

export const HealthReply = Type.Object({ status: Type.Literal('ok') });
export const ReadyReply = Type.Object({
  status: StringEnum(['ready', 'unavailable'], 'ready when Postgres and Redis both answer'),
  postgres: Type.String({ description: '"ok" or the reason it failed' }),
  redis: Type.String({ description: '"ok" or the reason it failed' }),
});
