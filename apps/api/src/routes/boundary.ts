// The boundary an adaptive (refine) sweep found:
//   GET /sweeps/:id/boundary       polylines in the refine axes' coordinates, with the cells they came from
//   GET /sweeps/:id/boundary.svg   the refined cells coloured by the outcome, the boundary over them
// Computed from the runs finished so far, so it can be read while the sweep refines.
import type { FastifyPluginAsync, RawServerDefault } from 'fastify';
import { Type } from '@sinclair/typebox';
import { compileSweep, type CompiledSweep } from '@curation/sweep-spec';
import { getSweepWithSpec, refineProgress, runOutcomes } from '@curation/db';
import { refinedPlotSvg } from '@curation/plots';
import type { TypeBoxProvider } from '../type-provider.ts';
import type { Deps } from '../deps.ts';
import { ApiError, notFound } from '../errors.ts';
import { isUuid } from '../cursor.ts';
import { visibilityOf } from '../auth.ts';
import { SweepIdParams, errors } from '../schemas.ts';
import { pointValues } from '../refiner.ts';

const Range = Type.Array(Type.Number(), { minItems: 2, maxItems: 2 });

const BoundaryCellSchema = Type.Object({
  range: Type.Array(Range, { description: '[from, to] along each refine axis' }),
  level: Type.Integer({ description: '0 = a cell of the starting grid; each level halves it' }),
  boundary: Type.Boolean(),
  value: Type.Union([Type.Number(), Type.Null()], { description: 'mean outcome at its corners (verdicts 0..1)' }),
});

export const BoundarySchema = Type.Object({
  id: Type.String(),
  status: Type.String(),
  stage: Type.Integer({ description: 'the current refinement stage (0 = the starting grid)' }),
  done: Type.Boolean({ description: 'the refiner added its last stage' }),
  runs: Type.Integer({ description: 'runs so far' }),
  budget: Type.Integer(),
  fullGrid: Type.Integer({ description: 'runs a full grid at the finest resolution would take' }),
  axes: Type.Array(Type.Object({ param: Type.String(), min: Type.Number(), max: Type.Number(), scale: Type.String() })),
  outcome: Type.Object({}, { additionalProperties: true }),
  finest: Type.Integer({ description: 'cells per axis at the finest level' }),
  polylines: Type.Array(Type.Array(Type.Array(Type.Number())), { description: 'the boundary: lists of points in the axes\' coordinates' }),
  cells: Type.Array(BoundaryCellSchema, { description: 'the cells the boundary crosses (all leaf cells with ?cells=all)' }),
  leaves: Type.Integer({ description: 'leaf cells of the refinement' }),
});

const BoundaryQuery = Type.Object({
  cells: Type.Optional(Type.Unsafe<'boundary' | 'all'>({ type: 'string', enum: ['boundary', 'all'], description: 'which cells to list (default boundary)' })),
});
const SvgQuery = Type.Object({
  width: Type.Optional(Type.Integer({ minimum: 200, maximum: 4000 })),
  height: Type.Optional(Type.Integer({ minimum: 200, maximum: 4000 })),
});

type Refined = CompiledSweep & { refine: NonNullable<CompiledSweep['refine']> };

export const boundaryRoutes: FastifyPluginAsync<Deps, RawServerDefault, TypeBoxProvider> = async (app, deps) => {
  const { pool } = deps;

  async function load(id: string, vis: ReturnType<typeof visibilityOf>) {
    const sweep = isUuid(id) ? await getSweepWithSpec(pool, id, vis) : null;
    if (!sweep) throw notFound('sweep', id);
    const spec = sweep.spec as { refine?: unknown };
    if (!spec || spec.refine === undefined) {
      throw new ApiError(409, `sweep ${id} is not an adaptive sweep: its spec has no refine block, so it has no boundary`);
    }
    const compiled = compileSweep(spec) as Refined;
    const plan = compiled.refine;
    const runs = await runOutcomes(pool, id, plan.outcome.segs);
    const boundary = plan.boundary(pointValues(compiled, runs));
    const progress = (await refineProgress(pool, [id])).get(id);
    return { sweep, plan, runs, boundary, progress };
  }

  app.get('/sweeps/:id/boundary', {
    schema: {
      tags: ['sweeps'],
      summary: 'The boundary an adaptive sweep found (marching squares over its refined cells)',
      params: SweepIdParams,
      querystring: BoundaryQuery,
      response: { 200: BoundarySchema, ...errors(400, 404, 409) },
    },
  }, async (request) => {
    const { sweep, plan, runs, boundary, progress } = await load(request.params.id, visibilityOf(request));
    const { segs, ...outcome } = plan.outcome;
    void segs;
    return {
      id: sweep.id,
      status: sweep.status,
      stage: progress?.stage ?? 0,
      done: progress?.done ?? false,
      runs: runs.length,
      budget: plan.budget,
      fullGrid: plan.lattice.capacity,
      axes: plan.axes.map(({ param, min, max, scale }) => ({ param, min, max, scale })),
      outcome,
      finest: plan.lattice.finest,
      polylines: boundary.polylines,
      cells: request.query.cells === 'all' ? boundary.cells : boundary.cells.filter((c) => c.boundary),
      leaves: boundary.cells.length,
    };
  });

  app.get('/sweeps/:id/boundary.svg', {
    schema: {
      tags: ['sweeps'],
      summary: 'Picture of an adaptive sweep: its refined cells and the boundary',
      params: SweepIdParams,
      querystring: SvgQuery,
      response: { 200: { description: 'SVG image', content: { 'image/svg+xml': { schema: { type: 'string' } } } }, ...errors(400, 404, 409) },
    },
  }, async (request, reply) => {
    const { sweep, plan, runs, boundary, progress } = await load(request.params.id, visibilityOf(request));
    const [ax, ay] = plan.axes;
    const o = plan.outcome;
    const svg = refinedPlotSvg({
      title: `${sweep.name}: ${o.path}${o.kind === 'threshold' ? ` = ${o.threshold}` : ''} (stage ${progress?.stage ?? 0}, ${runs.length} runs)`,
      xLabel: ax.param,
      yLabel: ay?.param,
      xLog: ax.scale === 'log',
      yLog: ay?.scale === 'log',
      cells: boundary.cells.map((c) => ({ x: c.range[0], y: c.range[1], value: c.value, boundary: c.boundary })),
      polylines: boundary.polylines,
      valueRange: o.kind === 'verdict' ? [0, 1] : undefined,
      valueLabel: o.path.replace(/^summary\./, ''),
      width: request.query.width,
      height: request.query.height,
    });
    return reply.type('image/svg+xml; charset=utf-8').send(svg);
  });
};
