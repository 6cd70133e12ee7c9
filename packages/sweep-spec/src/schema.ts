// TypeBox schema of a sweep specification (structural; for Fastify/AJV and OpenAPI).
// compileSweep checks the same structure by hand (to report every problem with a
// precise path) and then the semantics (paths into base, derive expressions).

import { Type, type ObjectOptions, type Static, type TRecord, type TSchema, type TString } from '@sinclair/typebox';
import { RunConfigSchema } from '@curation/core';
import { RefineSchema } from './refine-schema.ts';

/** Top-level fields of a RunConfig: a param whose first segment is one of these is a configuration path. */
export const CONFIG_FIELDS: readonly string[] = Object.keys(RunConfigSchema.properties);

export const PARAM_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z0-9_]+)*$';

const Param = Type.String({
  pattern: PARAM_PATTERN,
  description:
    'A dotted path into the configuration (first segment a RunConfig field, numeric segments index arrays, ' +
    'e.g. "rewards.1.scale") or a free variable used only by derive expressions (e.g. "D").',
});

/**
 * An object whose every property matches `value`: emitted as plain
 * `{ type: "object", additionalProperties: value }` (no patternProperties, so
 * OpenAPI 3.0 accepts it), typed statically as a Record.
 */
function StringMap<T extends TSchema>(value: T, options: ObjectOptions): TRecord<TString, T> {
  return Type.Object({}, { ...options, additionalProperties: value }) as unknown as TRecord<TString, T>;
}

const Pair = (item: TSchema, description: string) => Type.Array(item, { minItems: 2, maxItems: 2, description });

const Scalar = Type.Union([Type.Number(), Type.String(), Type.Boolean()]);

const ValuesAxis = Type.Object(
  {
    param: Param,
    values: Type.Array(Scalar, { minItems: 1, description: 'The values, in order.' }),
  },
  { additionalProperties: false, title: 'ValuesAxis' },
);

const LinspaceAxis = Type.Object(
  {
    param: Param,
    linspace: Type.Array(Type.Number(), {
      minItems: 3,
      maxItems: 3,
      description: '[from, to, count] (count an integer >= 1): count evenly spaced values from `from` to `to` inclusive.',
    }),
  },
  { additionalProperties: false, title: 'LinspaceAxis' },
);

const LogspaceAxis = Type.Object(
  {
    param: Param,
    logspace: Type.Array(Type.Number(), {
      minItems: 3,
      maxItems: 3,
      description:
        '[from, to, count] (from, to > 0; count an integer >= 1): count geometrically spaced values from `from` to `to` inclusive (the values themselves, not exponents).',
    }),
  },
  { additionalProperties: false, title: 'LogspaceAxis' },
);

const ReplicatesAxis = Type.Object(
  {
    param: Param,
    replicates: Type.Integer({ minimum: 1, description: 'N: the param takes 0, 1, ..., N-1 (usually `seed`).' }),
  },
  { additionalProperties: false, title: 'ReplicatesAxis' },
);

const ZipAxis = Type.Object(
  {
    zip: Type.Array(Type.Union([ValuesAxis, LinspaceAxis, LogspaceAxis, ReplicatesAxis]), {
      minItems: 1,
      description: 'Several params varied together: entry k of every member is used at the same step; all members have the same length.',
    }),
  },
  { additionalProperties: false, title: 'ZipAxis' },
);

const Distribution = Type.Union(
  [
    Type.Object({ uniform: Pair(Type.Number(), '[a, b], a <= b: uniform on [a, b).') }, { additionalProperties: false }),
    Type.Object(
      { loguniform: Pair(Type.Number({ exclusiveMinimum: 0 }), '[a, b], 0 < a <= b: log-uniform on [a, b].') },
      { additionalProperties: false },
    ),
    Type.Object({ choice: Type.Array(Scalar, { minItems: 1, description: 'One of these values, each equally likely.' }) }, { additionalProperties: false }),
    Type.Object({ randint: Pair(Type.Integer(), '[a, b], a <= b: an integer in a..b inclusive (b - a < 2^32).') }, { additionalProperties: false }),
  ],
  { title: 'Distribution' },
);

const RandomAxis = Type.Object(
  {
    random: Type.Object(
      {
        n: Type.Integer({ minimum: 1, description: 'Number of points drawn.' }),
        seed: Type.Integer({ description: 'Seed of this axis\'s deterministic generator.' }),
        params: StringMap(Distribution, {
          minProperties: 1,
          description: 'Param name (as in `param`) -> distribution. Every param of a point is drawn independently.',
        }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false, title: 'RandomAxis' },
);

export const AxisSchema = Type.Union([ValuesAxis, LinspaceAxis, LogspaceAxis, ReplicatesAxis, ZipAxis, RandomAxis], {
  title: 'Axis',
});


export const SweepSpecSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200, description: 'Name of the sweep.' }),
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { description: 'Free-form labels.' })),
    description: Type.Optional(Type.String({ description: 'Free-form description.' })),
    base: Type.Object(
      {},
      {
        additionalProperties: true,
        description:
          'The RunConfig every configuration starts from (see RunConfigSchema of @curation/core; fields: ' +
          CONFIG_FIELDS.join(', ') +
          '). Checked only as an object here: axes and derive may fill fields, and every expanded configuration is validated in full.',
      },
    ),
    axes: Type.Optional(
      Type.Array(AxisSchema, {
        description: 'Combined as a cartesian product in the order given, the last axis varying fastest. None: one configuration (base).',
      }),
    ),
    derive: Type.Optional(
      StringMap(Type.String({ minLength: 1 }), {
        description: 'Configuration path (dotted) -> expression over the axis variables, applied after the axes.',
      }),
    ),
    refine: Type.Optional(RefineSchema),
  },
  { additionalProperties: false, title: 'SweepSpec', description: 'A parameter sweep: a base RunConfig and axes that vary it.' },
);

export type SweepSpec = Static<typeof SweepSpecSchema>;
