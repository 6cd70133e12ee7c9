// Fixtures of stored results under both contracts: contract 2 rows written by the real
// insert (insertResults), and contract 1 rows as a core 1.x stored them (core_version
// 1.0.1, the version 1 trajectory encoding without shareStep, a summary without the
// contract 2 fields).
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Summary } from '@curation/core';
import { encodeTrajectory, insertResults } from '@curation/db';

export interface FixtureRun {
  index: number;
  params: Record<string, number>;
  status: 'succeeded' | 'failed' | 'queued';
  coreVersion: string | null;
  summary: Record<string, any> | null;
  trajectory: Record<string, any>[] | null;
  runId?: string;
  resultId?: string;
}

/** A contract 2 trajectory row: shareStep present (null at t = 0). */
export function row2(t: number, q: number, D: number) {
  return {
    t, entropy: 2 - t / 100, effectiveSupport: Math.exp(2 - t / 100), mass: [q * (1 - 1 / (t + 2)), (1 - q) * (1 - 1 / (t + 2))],
    outside: 1 / (t + 2), meanReward: [-1 / (D + t), -2 / (D + t)], varReward: [0.1, 0.2],
    step: t === 0 ? null : 1 / (t + 7), shareStep: t === 0 ? null : 1 / (t + 7) ** 2,
  };
}

/** A contract 2 summary with every verdict set from (q, D, seed). */
export function summary2(q: number, D: number, seed: number) {
  const share0 = q + 0.01 * seed - 0.02 / D;
  const final = row2(20, q, D);
  return {
    converged: seed !== 1,
    convergedAt: seed !== 1 ? 5 * D + seed : null,
    final,
    basinShare: [share0, 1 - share0],
    nashGap: Math.abs(share0 - q),
    collapsed: D === 1 && seed === 2,
    survivingBasins: D === 1 && seed === 2 ? 1 : 2,
    outsideDecayRate: seed === 2 ? null : -0.1 * D - seed / 100,
    audit: {
      disjoint: true, initMass: [0.4, 0.4], crossGap: [D, D], gapsExceed2eps: [true, D > 1], outsideGap: D / 2,
      leakage: [Math.exp(-D), null], inWindow: D >= 2, interval: [q - 0.05, q + 0.05], intervalB5: [q - 0.06, q + 0.06],
      intervalCorrected: [q - 0.04, q + 0.04], outsideDomination: 0.5 + D / 10 + seed / 100, largeK: true,
      applies: D >= 2 && seed !== 0, inInterval: seed !== 2, inIntervalB5: true, inIntervalCorrected: seed === 0,
      varianceBound: [0.01, 0.02], varianceSlack: [-0.001, 0.003],
      nash: { utilities: [[-0.1, -D], [-D, -0.2]], premise: true, gains: [D / 10, D / 20] },
    },
  };
}

/** A contract 1 summary (no outsideDecayRate, the old audit). */
export function summary1(q: number, D: number, seed: number) {
  const share0 = q + 0.03;
  const { shareStep: _drop, ...final } = row2(20, q, D);
  return {
    converged: false, convergedAt: null, final, basinShare: [share0, 1 - share0], nashGap: Math.abs(share0 - q) + seed / 1000,
    collapsed: false, survivingBasins: 2,
    audit: { disjoint: true, initMass: [0.4, 0.4], crossGap: [D, D], leakage: [0.1, 0.1], inWindow: true, interval: [0, 1], inInterval: true },
  };
}

/** Version 1 of the trajectory encoding, as contract 1 cores stored it (no shareStep column). */
export function encodeV1(rows: Record<string, any>[]): Buffer {
  const n = rows.length;
  const m = n ? rows[0].mass.length : 0;
  const out = new Float64Array(3 + (5 + 3 * m) * n);
  out[0] = 1; out[1] = n; out[2] = m;
  rows.forEach((r, k) => {
    const col = (c: number, v: number) => { out[3 + c * n + k] = v; };
    col(0, r.t); col(1, r.entropy); col(2, r.effectiveSupport); col(3, r.outside); col(4, r.step ?? NaN);
    for (let i = 0; i < m; i++) { col(5 + i, r.mass[i]); col(5 + m + i, r.meanReward[i]); col(5 + 2 * m + i, r.varReward[i]); }
  });
  return Buffer.from(out.buffer);
}

/**
 * Stores a contract 1 result the way a core 1.0.1 worker did, plus final_outside as the
 * contract 2 migration backfills it (the other new columns stay NULL).
 */
export async function insertContract1(pool: pg.Pool, hash: string, summary: ReturnType<typeof summary1>, traj: Record<string, any>[]): Promise<string> {
  const r = await pool.query(
    `INSERT INTO results (config_hash, core_version, git_revision, config, summary, trajectory, converged, converged_at,
                          collapsed, nash_gap, basin_share0, surviving_basins, in_interval, final_entropy, duration_ms, final_outside)
     VALUES ($1, '1.0.1', 'old', '{}', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 3, $12) RETURNING id::text`,
    [hash, JSON.stringify(summary), encodeV1(traj), summary.converged, summary.convergedAt, summary.collapsed, summary.nashGap,
      summary.basinShare[0], summary.survivingBasins, summary.audit.inInterval, summary.final.entropy, summary.final.outside],
  );
  return r.rows[0].id;
}

export interface SweepOpts {
  name: string;
  tags?: string[];
  /** Axis values per variable, in axis order (the last one varies fastest). */
  axes: [string, number[]][];
  /** Which core computed run `index` (null: not succeeded). */
  coreOf: (index: number, params: Record<string, number>) => '1.0.1' | '2.0.0' | null;
  teamId?: string | null;
}

/** A sweep whose succeeded runs are contract 1 or 2 results as `coreOf` says. */
export async function insertMixedSweep(pool: pg.Pool, o: SweepOpts) {
  const id = randomUUID();
  const combos: Record<string, number>[] = [{}];
  for (const [name, values] of o.axes) {
    const next: Record<string, number>[] = [];
    for (const c of combos) for (const v of values) next.push({ ...c, [name]: v });
    combos.splice(0, combos.length, ...next);
  }
  const spec = {
    name: o.name, tags: o.tags ?? [],
    base: { support: { kind: 'grid', min: -3, max: 3, n: 61 }, rewards: [{ kind: 'quadratic', center: 0 }, { kind: 'quadratic', center: 0 }], iterations: 20 },
    axes: o.axes.map(([param, values]) => ({ param, values })),
  };
  await pool.query(
    `INSERT INTO sweeps (id, name, tags, spec, total, status, enqueued, core_version, team_id) VALUES ($1, $2, $3, $4, $5, 'succeeded', $5, '2.0.0', $6)`,
    [id, o.name, o.tags ?? [], JSON.stringify(spec), combos.length, o.teamId ?? null],
  );
  const runs: FixtureRun[] = [];
  for (const [index, params] of combos.entries()) {
    const core = o.coreOf(index, params);
    const q = params.q ?? 0.5;
    const D = params.D ?? 1;
    const seed = params.seed ?? 0;
    const run: FixtureRun = { index, params, status: core ? 'succeeded' : 'failed', coreVersion: core, summary: null, trajectory: null };
    const hash = `${id}:${index}`;
    if (core === '2.0.0') {
      run.summary = summary2(q, D, seed);
      run.trajectory = [0, 10, 20].map((t) => row2(t, q, D));
      const ids = await insertResults(pool, [{
        configHash: hash, coreVersion: '2.0.0', contract: 2, gitRevision: 'new', config: { q, D },
        summary: run.summary as unknown as Summary, trajectory: encodeTrajectory(run.trajectory as any), generator: null, durationMs: 2,
      }]);
      run.resultId = ids.get(hash);
    } else if (core === '1.0.1') {
      run.summary = summary1(q, D, seed);
      run.trajectory = [0, 10, 20].map((t) => { const { shareStep: _s, ...r } = row2(t, q, D); return r; });
      run.resultId = await insertContract1(pool, hash, run.summary as ReturnType<typeof summary1>, run.trajectory);
    }
    const r = await pool.query(
      'INSERT INTO runs (sweep_id, index, params, status, result_id, error) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id::text',
      [id, index, JSON.stringify(params), run.status, run.resultId ?? null, core ? null : 'boom'],
    );
    run.runId = r.rows[0].id;
    runs.push(run);
  }
  return { id, runs };
}
