// Compiled sweeps by id. A job only names indexes, so every job of a sweep needs the
// compiled spec; compiling once per sweep (not per job) keeps small batches cheap.
// Specs never change after submission, so entries never go stale, only old.
import type { Queryable } from '@curation/db';
import { compileSweep } from '@curation/sweep-spec';

export type CompiledSweep = ReturnType<typeof compileSweep>;

export interface SweepInfo {
  compiled: CompiledSweep;
  /** The submitting team (null for sweeps from before teams): the result cache's scope. */
  teamId: string | null;
}

export class SweepCache {
  private readonly entries = new Map<string, Promise<SweepInfo | undefined>>();

  constructor(private readonly db: Queryable, private readonly max = 64) {}

  /** undefined when the sweep no longer exists. */
  get(sweepId: string): Promise<SweepInfo | undefined> {
    let hit = this.entries.get(sweepId);
    if (hit) {
      // Re-insert: Map iteration order is insertion order, so the oldest is first.
      this.entries.delete(sweepId);
    } else {
      hit = this.load(sweepId);
      hit.catch(() => this.entries.delete(sweepId));
    }
    this.entries.set(sweepId, hit);
    while (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
    return hit;
  }

  private async load(sweepId: string): Promise<SweepInfo | undefined> {
    const { rows } = await this.db.query<{ spec: unknown; team_id: string | null }>('SELECT spec, team_id FROM sweeps WHERE id = $1', [sweepId]);
    if (!rows[0]) return undefined;
    return { compiled: compileSweep(rows[0].spec as Parameters<typeof compileSweep>[0]), teamId: rows[0].team_id };
  }
}
