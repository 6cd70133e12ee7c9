// A sweep's spec and axis variables, as the results routes (stats, export, plots) need them.
import type { Queryable } from './queryable.ts';
import { ALL_SWEEPS, teamCondition, visibleTeam, type Visibility } from './sweeps.ts';
import { isUuid } from './uuid.ts';
import { specVariables } from '@curation/sweep-spec/variables';

// The one definition of a spec's axis variables (the sweep compiler's order).
export { specVariables };

export interface SweepMeta {
  id: string;
  spec: unknown;
  /** Axis variables: the spec's, then any other key of the first run's params (the derived parameters). */
  variables: string[];
  /** The spec's axis variables only. */
  axisVariables: string[];
}

/**
 * The sweep's spec and axis variables, or null when there is no such sweep visible to
 * `vis` (or the id is no uuid). The API always passes the caller's visibility; the
 * default (every sweep) is for tools with direct database access (bench).
 */
// On the caller's connection: stats and export pass their pg pool, so this read goes with them (docs/service-design.md, "Hot paths on pg").
export async function sweepMeta(db: Queryable, sweepId: string, vis: Visibility = ALL_SWEEPS): Promise<SweepMeta | null> {
  if (!isUuid(sweepId)) return null;
  const { rows } = await db.query<{ spec: unknown; first: Record<string, unknown> | null }>(
    `SELECT s.spec, (SELECT r.params FROM runs r WHERE r.sweep_id = s.id ORDER BY r.index LIMIT 1) AS first
       FROM sweeps s WHERE s.id = $1 AND ${teamCondition('$2', 's.team_id')}`,
    [sweepId, visibleTeam(vis)],
  );
  if (!rows.length) return null;
  const axisVariables = specVariables(rows[0].spec);
  const variables = [...axisVariables];
  const first = rows[0].first;
  if (first && typeof first === 'object') for (const k of Object.keys(first)) if (!variables.includes(k)) variables.push(k);
  return { id: sweepId, spec: rows[0].spec, variables, axisVariables };
}
