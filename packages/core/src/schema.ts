// Structural schema of a run configuration (section 1 of the contract).
// It is deliberately plain JSON Schema (no TypeBox-only kinds) because the API
// feeds it to AJV and to its OpenAPI docs. Semantic rules that JSON Schema cannot
// express (lengths that depend on n, weights summing to 1, cost budget...) live in
// validate.ts, which is the authority; this schema only has to accept every valid
// configuration and give readers the field documentation.
import { Type, type TSchema } from '@sinclair/typebox';

const Num = (description: string, extra: Record<string, unknown> = {}) =>
  Type.Number({ description, ...extra });

/** A vector in R^d; a bare number stands for a one-element vector when d = 1. */
const VecSchema = (description: string): TSchema =>
  Type.Union([Type.Number(), Type.Array(Type.Number(), { minItems: 1 })], { description });

const GridSupport = Type.Object(
  {
    kind: Type.Literal('grid'),
    min: VecSchema('lower bound per axis'),
    max: VecSchema('upper bound per axis'),
    n: Type.Union([Type.Integer({ minimum: 1 }), Type.Array(Type.Integer({ minimum: 1 }), { minItems: 1, maxItems: 3 })], {
      description: 'cells per axis; cell centres are min + (j + 0.5) (max - min) / n, row-major, last axis fastest',
    }),
  },
  { additionalProperties: false, description: 'regular grid of cell centres in 1 to 3 dimensions' },
);

const PointsSupport = Type.Object(
  {
    kind: Type.Literal('points'),
    points: Type.Array(VecSchema('coordinates of one point'), { minItems: 1, description: 'explicit coordinates, kept in order' }),
  },
  { additionalProperties: false, description: 'explicit list of points' },
);

const AtomsSupport = Type.Object(
  { kind: Type.Literal('atoms'), n: Type.Integer({ minimum: 1, description: 'number of atoms' }) },
  { additionalProperties: false, description: 'atoms without geometry (rewards must be tables, init uniform or table)' },
);

export const SupportSchema = Type.Union([GridSupport, PointsSupport, AtomsSupport], {
  description: 'the finite set X = {x_1..x_n}',
});

const GaussianInit = Type.Object(
  {
    kind: Type.Literal('gaussian'),
    mean: VecSchema('mean (dimension d)'),
    sd: Num('standard deviation', { exclusiveMinimum: 0 }),
  },
  { additionalProperties: false, description: 'p_0 proportional to exp(-||x - mean||^2 / (2 sd^2))' },
);

export const InitSchema = Type.Union(
  [
    Type.Object({ kind: Type.Literal('uniform') }, { additionalProperties: false, description: '1/n per atom' }),
    GaussianInit,
    Type.Object(
      {
        kind: Type.Literal('mixture'),
        components: Type.Array(
          Type.Object(
            {
              mean: VecSchema('component mean'),
              sd: Num('component standard deviation', { exclusiveMinimum: 0 }),
              weight: Num('component mass (>= 0, not all 0)', { minimum: 0 }),
            },
            { additionalProperties: false },
          ),
          { minItems: 1 },
        ),
      },
      { additionalProperties: false, description: 'gaussian components, each normalised over X to its weight' },
    ),
    Type.Object(
      {
        kind: Type.Literal('table'),
        values: Type.Array(Type.Number({ minimum: 0 }), { minItems: 1, description: 'one non-negative value per atom' }),
      },
      { additionalProperties: false, description: 'explicit p_0, normalised' },
    ),
  ],
  { description: 'initial distribution p_0', default: { kind: 'uniform' } },
);

const ClipSchema = Type.Object(
  { min: Type.Optional(Num('lower clip')), max: Type.Optional(Num('upper clip')) },
  { additionalProperties: false, description: 'clamp applied after the reward formula' },
);
const clip = {
  clip: Type.Optional(ClipSchema),
  beta: Type.Optional(Num("this reward's inverse temperature, replacing the run's beta for it", { exclusiveMinimum: 0 })),
};

export const RewardSchema = Type.Union(
  [
    Type.Object(
      {
        kind: Type.Literal('quadratic'),
        center: VecSchema('optimum'),
        scale: Type.Optional(Num('curvature', { default: 1 })),
        ...clip,
      },
      { additionalProperties: false, description: 'r(x) = -scale ||x - center||^2' },
    ),
    Type.Object(
      {
        kind: Type.Literal('abs'),
        center: VecSchema('optimum'),
        scale: Type.Optional(Num('slope', { default: 1 })),
        ...clip,
      },
      { additionalProperties: false, description: 'r(x) = -scale ||x - center|| (Euclidean norm)' },
    ),
    Type.Object(
      {
        kind: Type.Literal('gaussian'),
        center: VecSchema('optimum'),
        width: Num('width', { exclusiveMinimum: 0 }),
        height: Type.Optional(Num('height', { default: 1 })),
        ...clip,
      },
      { additionalProperties: false, description: 'r(x) = height exp(-||x - center||^2 / (2 width^2))' },
    ),
    Type.Object(
      {
        kind: Type.Literal('linear'),
        coef: VecSchema('coefficients'),
        bias: Type.Optional(Num('bias', { default: 0 })),
        ...clip,
      },
      { additionalProperties: false, description: 'r(x) = coef . x + bias' },
    ),
    Type.Object(
      {
        kind: Type.Literal('table'),
        values: Type.Array(Type.Number(), { minItems: 1, description: 'one reward per atom' }),
        ...clip,
      },
      { additionalProperties: false, description: 'r(x_j) = values[j]' },
    ),
  ],
  { description: 'one reward function' },
);

const minSd = Num('added to every standard deviation (s^2 I on each covariance)', { exclusiveMinimum: 0, default: 1e-6 });

export const ModelSchema = Type.Union(
  [
    Type.Object({ kind: Type.Literal('exact') }, { additionalProperties: false, description: 'Fit(D) = D: maximum likelihood over all distributions on X' }),
    Type.Object(
      { kind: Type.Literal('kernel'), bandwidth: Num('Gaussian kernel bandwidth h', { exclusiveMinimum: 0 }) },
      { additionalProperties: false, description: "each atom's mass spread over X by a Gaussian kernel normalised on X" },
    ),
    Type.Object(
      { kind: Type.Literal('gaussian'), minSd: Type.Optional(minSd) },
      { additionalProperties: false, description: 'the maximum-likelihood Gaussian (full covariance) evaluated on X' },
    ),
    Type.Object(
      {
        kind: Type.Literal('mixture'),
        components: Type.Integer({ minimum: 1, description: 'k, number of Gaussian components (at most the number of atoms)' }),
        emSteps: Type.Optional(Type.Integer({ minimum: 1, description: 'EM steps per generation', default: 1 })),
        minSd: Type.Optional(minSd),
      },
      { additionalProperties: false, description: 'a k-component Gaussian mixture fitted by weighted EM from the previous parameters' },
    ),
  ],
  { description: 'the model family refitted every generation (needs a grid or points support unless exact)', default: { kind: 'exact' } },
);

export const RunConfigSchema = Type.Object(
  {
    support: SupportSchema,
    init: Type.Optional(InitSchema),
    rewards: Type.Array(RewardSchema, { minItems: 1, description: 'r_1..r_m' }),
    weights: Type.Optional(
      Type.Array(Type.Number({ exclusiveMinimum: 0 }), {
        minItems: 1,
        description: 'w_1..w_m, each > 0, summing to 1 within 1e-9 (default uniform 1/m); not with q',
      }),
    ),
    q: Type.Optional(Num('shorthand for m = 2: weights [q, 1 - q]', { exclusiveMinimum: 0, exclusiveMaximum: 1 })),
    K: Type.Optional(
      Type.Union([Type.Integer({ minimum: 2 }), Type.Literal('inf')], {
        description: 'candidates per curated draw: integer >= 2 or "inf"',
        default: 'inf',
      }),
    ),
    beta: Type.Optional(Num('inverse temperature of the Luce choice', { minimum: 0, default: 1 })),
    realFraction: Type.Optional(
      Num('lambda: share of real data p_0 mixed into every generation', { minimum: 0, exclusiveMaximum: 1, default: 0 }),
    ),
    iterations: Type.Optional(Type.Integer({ minimum: 0, description: 'T, generations to run', default: 200 })),
    mode: Type.Optional(
      Type.Union([Type.Literal('exact'), Type.Literal('sampled')], {
        description: 'exact population dynamics or finite-sample dynamics',
        default: 'exact',
      }),
    ),
    samples: Type.Optional(Type.Integer({ minimum: 1, description: 'N, curated samples per generation (sampled mode)', default: 10000 })),
    seed: Type.Optional(Type.Integer({ description: 'random seed (sampled mode)', default: 0 })),
    eps: Type.Optional(Num('basin width for the basin masses', { minimum: 0, default: 0.1 })),
    tol: Type.Optional(Num("convergence threshold on the macro state's projected drift", { minimum: 0, default: 1e-6 })),
    recordEvery: Type.Optional(
      Type.Integer({ minimum: 1, description: 'record generations 0, k, 2k, ... and always T', default: 1 }),
    ),
    model: Type.Optional(ModelSchema),
    retrain: Type.Optional(
      Type.Union([Type.Literal('replace'), Type.Literal('accumulate')], {
        description: 'train on the newest curated data only, or on every curated set so far with equal weight',
        default: 'replace',
      }),
    ),
  },
  { additionalProperties: false, description: 'one curated-retraining run (contract section 1)' },
);
