// TypeBox schema of the `refine` block (structural, for Fastify/AJV and OpenAPI); the
// semantics (continuous fields, summary types, budget against the starting grid) are
// checked by compileSweep with precise paths.
import { Type } from '@sinclair/typebox';

const RefineAxisSchema = Type.Object(
  {
    param: Type.String({ description: 'A continuous configuration field (e.g. "q", "beta") or a free variable used by derive.' }),
    min: Type.Number(),
    max: Type.Number(),
    scale: Type.Optional(Type.Union([Type.Literal('linear'), Type.Literal('log')], { default: 'linear' })),
  },
  { additionalProperties: false, title: 'RefineAxis' },
);

const OutcomeSchema = Type.Object(
  {
    verdict: Type.Optional(Type.String({ description: 'A boolean summary field, e.g. "summary.collapsed", "summary.audit.applies".' })),
    metric: Type.Optional(Type.String({ description: 'A numeric summary field, e.g. "summary.basinShare.0".' })),
    threshold: Type.Optional(Type.Number({ description: 'The boundary is where the metric crosses this value.' })),
    tolerance: Type.Optional(Type.Number({ description: 'Refine cells whose corners differ by more than this.' })),
    aggregate: Type.Optional(
      Type.Union(['majority', 'all', 'any', 'mean', 'median', 'min', 'max'].map((a) => Type.Literal(a)), {
        description: 'How the replicates of a point (the other axes) combine: majority (verdicts, default), all, any; mean (metrics, default), median, min, max.',
      }),
    ),
  },
  { additionalProperties: false, title: 'RefineOutcome' },
);

export const RefineSchema = Type.Object(
  {
    axes: Type.Array(RefineAxisSchema, { minItems: 1, maxItems: 2, description: 'One or two continuous axes.' }),
    start: Type.Integer({ minimum: 1, description: 'Cells per axis on the starting grid (start + 1 points per axis).' }),
    finest: Type.Optional(Type.Integer({ minimum: 1, description: 'Cells per axis at the finest level: start x 2^depth.' })),
    depth: Type.Optional(Type.Integer({ minimum: 0, description: 'Halvings of the starting cells (instead of finest).' })),
    budget: Type.Integer({ minimum: 1, description: 'Most runs, the starting grid included.' }),
    outcome: OutcomeSchema,
  },
  {
    additionalProperties: false,
    title: 'Refine',
    description:
      'An adaptive sweep: the starting grid, then stage by stage the points of every cell whose corners disagree, ' +
      'until the finest level or the budget. Each point runs every configuration of `axes` (e.g. seeds); its outcome is their aggregate.',
  },
);
