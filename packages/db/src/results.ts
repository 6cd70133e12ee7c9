// Results: one row per (config_hash, core_version), shared by every run (of any
// sweep) that asked for the same configuration. Inserts are ON CONFLICT DO NOTHING
// and followed by a read, so two workers computing the same configuration at once
// both end up linked to the single stored row. The key holds the core version, and the
// contract is its major number (a generated column), so a result computed under one
// contract is never reused for another.
import type { Queryable } from './queryable.ts';
import type { Summary } from '@curation/core';
import { finiteJson, summaryColumns, type SummaryColumns } from './result-encoding.ts';

export { summaryColumns, type SummaryColumns } from './result-encoding.ts';

export interface NewResult {
  configHash: string;
  coreVersion: string;
  /** The output's `contract`, when the core reports it: must be the major number of coreVersion. */
  contract?: number;
  gitRevision: string;
  /** The normalised configuration (or configJson). */
  config?: unknown;
  /** The normalised configuration as JSON text, finite numbers only (a worker has it from hashing). */
  configJson?: string;
  /** The summary (or summaryJson and columns, see encodeSummary). */
  summary?: Summary;
  /** encodeSummary(summary), prepared where the result was computed. */
  summaryJson?: string;
  columns?: SummaryColumns;
  /** encodeTrajectory() output. */
  trajectory: Uint8Array;
  generator: string | null;
  durationMs: number;
}

/** The contract a core version implements: its major number (1 for a version that has none). */
export function contractOf(coreVersion: string): number {
  const m = /^([0-9]{1,9})\./.exec(coreVersion);
  return m ? Number(m[1]) : 1;
}

/** hash -> result id for the hashes already stored under `coreVersion`. */
export async function findResultIds(db: Queryable, coreVersion: string, hashes: string[]): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  if (hashes.length === 0) return found;
  const { rows } = await db.query<{ id: string; config_hash: string }>({
    name: 'cs_result_ids',
    text: 'SELECT id, config_hash FROM results WHERE core_version = $1 AND config_hash = ANY($2::text[])',
    values: [coreVersion, [...new Set(hashes)]],
  });
  for (const r of rows) found.set(r.config_hash, r.id);
  return found;
}

function missing(hash: string, what: string): never {
  throw new Error(`result of ${hash}: no ${what}`);
}

// On the pg pool: through Prisma the batched store costs more than the service's 5% (docs/service-design.md, "Hot paths on pg").
/**
 * Stores results (one multi-row INSERT per core version) and returns hash -> id for all of them,
 * whether this call inserted the row or someone else had already.
 */
export async function insertResults(db: Queryable, results: NewResult[]): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  if (results.length === 0) return ids;
  const byVersion = new Map<string, NewResult[]>();
  for (const r of results) {
    if (r.contract !== undefined && r.contract !== contractOf(r.coreVersion)) {
      throw new Error(`result of ${r.configHash}: contract ${r.contract} but core version ${r.coreVersion} (the contract is the core's major number)`);
    }
    const list = byVersion.get(r.coreVersion) ?? [];
    // The same configuration twice in one batch would make ON CONFLICT touch a row twice.
    if (!list.some((o) => o.configHash === r.configHash)) list.push(r);
    byVersion.set(r.coreVersion, list);
  }
  for (const [coreVersion, list] of byVersion) {
    const cols = {
      hash: [] as string[], rev: [] as string[], config: [] as string[], summary: [] as string[],
      trajOffset: [] as number[], trajLength: [] as number[], gen: [] as (string | null)[], converged: [] as boolean[], convergedAt: [] as (number | null)[],
      collapsed: [] as boolean[], nashGap: [] as (number | null)[], share0: [] as (number | null)[],
      surviving: [] as number[], inInterval: [] as (boolean | null)[], entropy: [] as number[], duration: [] as number[],
      decay: [] as (number | null)[], applies: [] as (boolean | null)[], inB5: [] as (boolean | null)[],
      inCorrected: [] as (boolean | null)[], domination: [] as (number | null)[], outside: [] as (number | null)[],
    };
    let trajBytes = 0;
    for (const r of list) {
      const s = r.columns ?? summaryColumns(r.summary ?? missing(r.configHash, 'summary'));
      cols.hash.push(r.configHash);
      cols.rev.push(r.gitRevision);
      cols.config.push(r.configJson ?? finiteJson(r.config ?? missing(r.configHash, 'config'), `config of ${r.configHash}`));
      cols.summary.push(r.summaryJson ?? finiteJson(r.summary, `summary of ${r.configHash}`));
      cols.trajOffset.push(trajBytes);
      cols.trajLength.push(r.trajectory.byteLength);
      trajBytes += r.trajectory.byteLength;
      cols.gen.push(r.generator);
      cols.converged.push(s.converged);
      cols.convergedAt.push(s.convergedAt);
      cols.collapsed.push(s.collapsed);
      cols.nashGap.push(s.nashGap);
      cols.share0.push(s.basinShare0);
      cols.surviving.push(s.survivingBasins);
      cols.inInterval.push(s.inInterval);
      cols.entropy.push(s.finalEntropy);
      cols.duration.push(r.durationMs);
      cols.decay.push(s.outsideDecayRate);
      cols.applies.push(s.auditApplies);
      cols.inB5.push(s.inIntervalB5);
      cols.inCorrected.push(s.inIntervalCorrected);
      cols.domination.push(s.outsideDomination);
      cols.outside.push(s.finalOutside);
    }
    // Named, so it is planned once per connection (see run-lifecycle.ts).
    // unnest over typed arrays: one statement and one round trip for the whole batch,
    // with a fixed parameter count whatever the batch size. The trajectories travel as
    // one binary parameter cut by offsets: inside a bytea[] they would be hex text,
    // twice their size, escaped in Node and parsed back by Postgres. (One jsonb
    // document for the whole batch, through jsonb_to_recordset, was measured too: it
    // saved some Node time but cost Postgres more, and Postgres is what a team shares.)
    const blob = Buffer.concat(list.map((r) => r.trajectory), trajBytes);
    const { rows: inserted } = await db.query<{ id: string; config_hash: string }>({
      name: 'cs_insert_results',
      text: `INSERT INTO results (config_hash, core_version, git_revision, config, summary, trajectory, generator,
                            converged, converged_at, collapsed, nash_gap, basin_share0, surviving_basins,
                            in_interval, final_entropy, duration_ms, outside_decay_rate, audit_applies,
                            in_interval_b5, in_interval_corrected, outside_domination, final_outside)
       SELECT u.hash, $1, u.rev, u.config::jsonb, u.summary::jsonb, substring($6::bytea FROM u.traj_offset + 1 FOR u.traj_length), u.gen, u.converged, u.converged_at,
              u.collapsed, u.nash_gap, u.share0, u.surviving, u.in_interval, u.entropy, u.duration, u.decay, u.applies,
              u.in_b5, u.in_corrected, u.domination, u.outside
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $17::int[], $18::int[], $7::text[], $8::boolean[],
                     $9::int[], $10::boolean[], $11::float8[], $12::float8[], $13::int[], $14::boolean[],
                     $15::float8[], $16::float8[], $19::float8[], $20::boolean[], $21::boolean[], $22::boolean[],
                     $23::float8[], $24::float8[])
              AS u(hash, rev, config, summary, traj_offset, traj_length, gen, converged, converged_at, collapsed, nash_gap, share0,
                   surviving, in_interval, entropy, duration, decay, applies, in_b5, in_corrected, domination, outside)
       ON CONFLICT (config_hash, core_version) DO NOTHING
       RETURNING id, config_hash`,
      values: [coreVersion, cols.hash, cols.rev, cols.config, cols.summary, blob, cols.gen, cols.converged,
        cols.convergedAt, cols.collapsed, cols.nashGap, cols.share0, cols.surviving, cols.inInterval,
        cols.entropy, cols.duration, cols.trajOffset, cols.trajLength, cols.decay, cols.applies, cols.inB5,
        cols.inCorrected, cols.domination, cols.outside],
    });
    for (const r of inserted) ids.set(r.config_hash, r.id);
    // Rows someone else stored first (the same configuration computed twice at once).
    const others = list.filter((r) => !ids.has(r.configHash)).map((r) => r.configHash);
    for (const [hash, id] of await findResultIds(db, coreVersion, others)) ids.set(hash, id);
  }
  return ids;
}
