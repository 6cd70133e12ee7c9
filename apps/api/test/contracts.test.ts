// Contract 1 and contract 2 results side by side: stored contract 1 rows (core 1.0.1,
// version 1 trajectories) stay readable and are labelled contract 1; every reply that
// aggregates results uses one contract and says which; contract 2 verdicts are columns,
// metrics, filters and export columns under one name each.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import type { Summary } from '@curation/core';
import { decodeTrajectory, encodeTrajectory, findResultIds, insertResults, trajectoryVersion } from '@curation/db';
import { setup, type Env, type TeamKey } from './helpers.ts';
import { encodeV1, insertMixedSweep, row2, summary2, type FixtureRun } from './contract-fixtures.ts';

let env: Env;
let pool: pg.Pool;
let app: FastifyInstance;
let admin: TeamKey;
let mixed: Awaited<ReturnType<typeof insertMixedSweep>>;

const QS = [0.1, 0.3];
const DS = [1, 2];
// Runs of q = 0.1 with seed 0 were computed by a core 1.0.1 before the upgrade; index 5 failed.
const coreOf = (i: number, p: Record<string, number>) => (i === 5 ? null : p.q === 0.1 && p.seed === 0 ? '1.0.1' : '2.0.0') as '1.0.1' | '2.0.0' | null;

beforeAll(async () => {
  env = await setup();
  pool = env.pool;
  mixed = await insertMixedSweep(pool, { name: 'mixed', tags: ['mixed'], axes: [['q', QS], ['D', DS], ['seed', [0, 1, 2]]], coreOf });
  admin = await env.team({ admin: true });
  app = await env.app();
});
afterAll(async () => { await env?.close(); });

const get = (url: string) => app.inject({ method: 'GET', url, headers: admin.headers });
const of = (contract: 1 | 2, pred: (r: FixtureRun) => boolean = () => true) =>
  mixed.runs.filter((r) => r.status === 'succeeded' && (contract === 2 ? r.coreVersion === '2.0.0' : r.coreVersion === '1.0.1') && pred(r));
const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : null);
const close = (a: number | null, b: number | null) => (b === null ? expect(a).toBeNull() : expect(a).toBeCloseTo(b, 12));

describe('storage', () => {
  it('labels rows with the contract of their core version and stores the contract 2 verdicts in columns', async () => {
    const { rows } = await pool.query(
      `SELECT r.index, res.contract, res.core_version, res.outside_decay_rate, res.audit_applies, res.in_interval, res.in_interval_b5,
              res.in_interval_corrected, res.outside_domination, res.final_outside, res.converged, res.converged_at, res.collapsed,
              res.surviving_basins
         FROM runs r JOIN results res ON res.id = r.result_id WHERE r.sweep_id = $1 ORDER BY r.index`,
      [mixed.id],
    );
    expect(rows).toHaveLength(of(1).length + of(2).length);
    for (const row of rows) {
      const run = mixed.runs[row.index];
      const s = run.summary!;
      expect(row.contract).toBe(run.coreVersion === '1.0.1' ? 1 : 2);
      expect(row.core_version).toBe(run.coreVersion);
      expect(row.converged).toBe(s.converged);
      expect(row.converged_at).toBe(s.convergedAt);
      expect(row.collapsed).toBe(s.collapsed);
      expect(row.surviving_basins).toBe(s.survivingBasins);
      expect(row.final_outside).toBe(s.final.outside);
      expect(row.in_interval).toBe(s.audit.inInterval);
      // contract 1 summaries have none of these: NULL, not false or 0
      expect(row.outside_decay_rate).toBe(s.outsideDecayRate ?? null);
      expect(row.audit_applies).toBe(s.audit.applies ?? null);
      expect(row.in_interval_b5).toBe(s.audit.inIntervalB5 ?? null);
      expect(row.in_interval_corrected).toBe(s.audit.inIntervalCorrected ?? null);
      expect(row.outside_domination).toBe(s.audit.outsideDomination ?? null);
    }
  });

  it("the migration's backfill fills the verdict columns from stored summaries", async () => {
    const sql = readFileSync(fileURLToPath(new URL('../../../prisma/migrations/20261207000000_contract2_verdicts/migration.sql', import.meta.url)), 'utf8');
    const update = /UPDATE "results" SET[\s\S]*?;/.exec(sql)![0];
    const ids = of(2).slice(0, 3).map((r) => r.resultId!);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `UPDATE results SET outside_decay_rate = NULL, audit_applies = NULL, in_interval_b5 = NULL, in_interval_corrected = NULL,
                            outside_domination = NULL, final_outside = NULL WHERE id = ANY($1::bigint[])`,
        [ids],
      );
      await client.query(update);
      const { rows } = await client.query(
        'SELECT id::text, outside_decay_rate, audit_applies, in_interval_b5, in_interval_corrected, outside_domination, final_outside FROM results WHERE id = ANY($1::bigint[])',
        [ids],
      );
      for (const row of rows) {
        const s = of(2).find((r) => r.resultId === row.id)!.summary!;
        expect(row).toEqual({
          id: row.id, outside_decay_rate: s.outsideDecayRate, audit_applies: s.audit.applies, in_interval_b5: s.audit.inIntervalB5,
          in_interval_corrected: s.audit.inIntervalCorrected, outside_domination: s.audit.outsideDomination, final_outside: s.final.outside,
        });
      }
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });

  it('never reuses a contract 1 result for contract 2, and refuses a contract that is not the core major', async () => {
    const old = of(1)[0];
    const hash = `${mixed.id}:${old.index}`;
    expect([...(await findResultIds(pool, '1.0.1', [hash])).keys()]).toEqual([hash]);
    expect((await findResultIds(pool, '2.0.0', [hash])).size).toBe(0);
    const summary = summary2(0.1, 1, 0) as unknown as Summary;
    const traj = encodeTrajectory([row2(0, 0.1, 1)] as any);
    const ids = await insertResults(pool, [{ configHash: hash, coreVersion: '2.0.0', gitRevision: 'x', config: {}, summary, trajectory: traj, generator: null, durationMs: 1 }]);
    expect(ids.get(hash)).not.toBe(old.resultId);
    const { rows } = await pool.query('SELECT core_version, contract FROM results WHERE config_hash = $1 ORDER BY contract', [hash]);
    expect(rows).toEqual([{ core_version: '1.0.1', contract: 1 }, { core_version: '2.0.0', contract: 2 }]);
    await expect(insertResults(pool, [{ configHash: 'x', coreVersion: '2.0.0', contract: 1, gitRevision: 'x', config: {}, summary, trajectory: traj, generator: null, durationMs: 1 }]))
      .rejects.toThrow(/contract 1 but core version 2.0.0/);
  });

  it('decodes version 1 trajectories with shareStep null and writes version 2 with it', () => {
    const rows = [0, 10].map((t) => row2(t, 0.2, 2));
    const v2 = encodeTrajectory(rows as any, 2);
    expect(trajectoryVersion(v2)).toBe(2);
    expect(decodeTrajectory(v2)).toEqual(rows);
    const v1 = encodeV1(rows);
    expect(trajectoryVersion(v1)).toBe(1);
    expect(decodeTrajectory(v1)).toEqual(rows.map((r) => ({ ...r, shareStep: null })));
  });
});

describe('stats never aggregate two contracts', () => {
  it('aggregates the newest contract by default, names it, and counts the runs of the other', async () => {
    const res = await get(`/v1/sweeps/${mixed.id}/stats?groupBy=q,D&metrics=summary.nashGap,summary.basinShare.0`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.contract).toBe(2);
    expect(body.coreVersions).toEqual(['2.0.0']);
    expect(body.otherContracts).toEqual([{ contract: 1, runs: of(1).length, coreVersions: ['1.0.1'] }]);
    expect(body.groups).toHaveLength(QS.length * DS.length);
    for (const g of body.groups) {
      const runs = of(2, (r) => r.params.q === g.key.q && r.params.D === g.key.D);
      expect(g).toMatchObject({ contract: 2, coreVersions: ['2.0.0'], n: runs.length });
      const gaps = runs.map((r) => r.summary!.nashGap);
      // the reproduction's number: mean squared Nash gap over seeds, by (q, D)
      close(g.metrics['summary.nashGap'].meanSquare, mean(gaps.map((x) => x * x)));
      close(g.metrics['summary.nashGap'].rms, Math.sqrt(mean(gaps.map((x) => x * x))!));
      close(g.metrics['summary.basinShare.0'].mean, mean(runs.map((r) => r.summary!.basinShare[0])));
    }
  });

  it('gives the older contract when asked, with the newer counted as left out', async () => {
    const body = (await get(`/v1/sweeps/${mixed.id}/stats?groupBy=D&metrics=summary.nashGap&contract=1`)).json();
    expect(body.contract).toBe(1);
    expect(body.coreVersions).toEqual(['1.0.1']);
    expect(body.otherContracts).toEqual([{ contract: 2, runs: of(2).length, coreVersions: ['2.0.0'] }]);
    for (const g of body.groups) {
      const runs = of(1, (r) => r.params.D === g.key.D);
      expect(g.n).toBe(runs.length);
      close(g.metrics['summary.nashGap'].mean, mean(runs.map((r) => r.summary!.nashGap)));
    }
    const none = (await get(`/v1/sweeps/${mixed.id}/stats?contract=3`)).json();
    expect(none).toMatchObject({ contract: 3, groups: [], coreVersions: [] });
    expect(none.otherContracts.map((o: any) => o.contract)).toEqual([2, 1]);
    expect((await get(`/v1/sweeps/${mixed.id}/stats?contract=0`)).statusCode).toBe(400);
  });

  it('has every contract 2 verdict as a metric and a filter', async () => {
    const metrics = [
      'summary.outsideDecayRate', 'summary.audit.applies', 'summary.audit.inIntervalB5', 'summary.audit.inIntervalCorrected',
      'summary.audit.outsideDomination', 'summary.final.outside', 'summary.final.shareStep', 'summary.convergedAt',
      'summary.survivingBasins', 'summary.audit.gapsExceed2eps.1', 'summary.audit.nash.utilities.0.1', 'summary.audit.intervalB5.0',
    ];
    const read = (s: Record<string, any>, m: string) => {
      let cur: any = s;
      for (const k of m.split('.').slice(1)) cur = cur?.[k];
      return typeof cur === 'boolean' ? Number(cur) : cur;
    };
    const body = (await get(`/v1/sweeps/${mixed.id}/stats?groupBy=D&metrics=${metrics.join(',')}`)).json();
    for (const g of body.groups) {
      const runs = of(2, (r) => r.params.D === g.key.D);
      for (const m of metrics) {
        const values = runs.map((r) => read(r.summary!, m)).filter((v) => v !== null && v !== undefined);
        expect(g.metrics[m].count, m).toBe(values.length);
        close(g.metrics[m].mean, mean(values));
      }
    }
    const filters: [string, (s: Record<string, any>) => boolean][] = [
      ['summary.audit.applies=true', (s) => s.audit.applies === true],
      ['summary.audit.inIntervalB5=true;summary.audit.inIntervalCorrected!=true', (s) => s.audit.inIntervalB5 && !s.audit.inIntervalCorrected],
      ['summary.outsideDecayRate<-0.15', (s) => s.outsideDecayRate !== null && s.outsideDecayRate < -0.15],
      ['summary.outsideDecayRate=null', (s) => s.outsideDecayRate === null],
      ['summary.audit.outsideDomination>=0.72', (s) => s.audit.outsideDomination >= 0.72],
      ['summary.final.outside<0.1', (s) => s.final.outside < 0.1],
      ['summary.collapsed=true', (s) => s.collapsed],
      ['summary.audit.gapsExceed2eps.1=false', (s) => s.audit.gapsExceed2eps[1] === false],
    ];
    for (const [where, pred] of filters) {
      const res = await get(`/v1/sweeps/${mixed.id}/stats?where=${encodeURIComponent(where)}`);
      expect(res.statusCode, where).toBe(200);
      const n = res.json().groups.reduce((a: number, g: any) => a + g.n, 0);
      expect(n, where).toBe(of(2, (r) => pred(r.summary!)).length);
      expect(n, where).toBeGreaterThan(0);
    }
  });

  it('compares tagged sweeps over one contract each, named in every line', async () => {
    const body = (await get('/v1/stats?tag=mixed&metrics=summary.nashGap')).json();
    expect(body.sweeps).toHaveLength(1);
    const line = body.sweeps[0];
    expect(line).toMatchObject({
      contract: 2, coreVersions: ['2.0.0'], succeeded: of(1).length + of(2).length, failed: 1,
      otherContracts: [{ contract: 1, runs: of(1).length, coreVersions: ['1.0.1'] }],
    });
    close(line.metrics['summary.nashGap'].mean, mean(of(2).map((r) => r.summary!.nashGap)));
    close(line.metrics['summary.nashGap'].meanSquare, mean(of(2).map((r) => r.summary!.nashGap ** 2)));
    close(line.convergedRate, mean(of(2).map((r) => Number(r.summary!.converged))));
    const old = (await get('/v1/stats?tag=mixed&contract=1')).json().sweeps[0];
    expect(old).toMatchObject({ contract: 1, coreVersions: ['1.0.1'], otherContracts: [{ contract: 2 }] });
    close(old.meanNashGap, mean(of(1).map((r) => r.summary!.nashGap)));
  });
});

describe('exports and plots say which contract computed each result', () => {
  it('has contract and core_version columns and the verdict columns under their one names', async () => {
    const res = await get(`/v1/sweeps/${mixed.id}/runs.csv`);
    const [header, ...rows] = res.body.trimEnd().split('\r\n').map((l) => l.split(','));
    const col = (n: string) => {
      expect(header, n).toContain(n);
      return header.indexOf(n);
    };
    for (const [i, row] of rows.entries()) {
      const run = mixed.runs[i];
      expect(row[col('contract')]).toBe(run.coreVersion === null ? '' : run.coreVersion === '1.0.1' ? '1' : '2');
      expect(row[col('core_version')]).toBe(run.coreVersion ?? '');
      const s = run.summary;
      expect(row[col('summary.outsideDecayRate')]).toBe(s?.outsideDecayRate == null ? '' : String(s.outsideDecayRate));
      expect(row[col('summary.audit.applies')]).toBe(s?.audit.applies == null ? '' : String(s.audit.applies));
      expect(row[col('summary.audit.outsideDomination')]).toBe(s?.audit.outsideDomination == null ? '' : String(s.audit.outsideDomination));
      expect(row[col('summary.final.shareStep')]).toBe(s?.final.shareStep == null ? '' : String(s.final.shareStep));
    }
  });

  it('decodes both trajectory encodings in the NDJSON export, labelled', async () => {
    const res = await get(`/v1/sweeps/${mixed.id}/runs.ndjson?trajectory=1`);
    const lines = res.body.trimEnd().split('\n').map((l) => JSON.parse(l));
    for (const [i, line] of lines.entries()) {
      const run = mixed.runs[i];
      expect(line.contract).toBe(run.coreVersion === null ? null : run.coreVersion === '1.0.1' ? 1 : 2);
      expect(line.coreVersion).toBe(run.coreVersion);
      if (run.trajectory) expect(line.trajectory).toEqual(run.trajectory.map((r) => ({ shareStep: null, ...r })));
      else expect(line.trajectory).toBeNull();
    }
  });

  it('titles plots with the contract and core version, and the runs left out', async () => {
    const heat = await get(`/v1/sweeps/${mixed.id}/plot.svg?x=q&y=D&z=summary.nashGap&agg=meanSquare`);
    expect(heat.statusCode).toBe(200);
    expect(heat.body).toMatch(new RegExp(`<title>mean square of Nash gap \\[summary\\.nashGap\\] over seeds [^<]*contract 2, core 2\\.0\\.0 \\(${of(1).length} runs of contract 1 left out\\)</title>`));
    const line = await get(`/v1/sweeps/${mixed.id}/plot.svg?x=D&z=summary.audit.applies&contract=1`);
    expect(line.body).toMatch(/<title>mean of audit: lemma applies \[summary\.audit\.applies\][^<]*contract 1, core 1\.0\.1 \(\d+ runs of contract 2 left out\)<\/title>/);
    const old = of(1)[0];
    const oldPlot = await get(`/v1/runs/${old.runId}/plot.svg`);
    expect(oldPlot.body).toMatch(/; contract 1, core 1\.0\.1<\/title>/);
    expect(oldPlot.body).not.toContain('share step');
    const fresh = await get(`/v1/runs/${of(2)[0].runId}/plot.svg`);
    expect(fresh.body).toMatch(/; contract 2, core 2\.0\.0<\/title>/);
    expect(fresh.body).toContain('data-series="share step"');
    expect(fresh.body).toContain('data-series="basin (reward 1)"');
  });
});

describe('one name per quantity', () => {
  it('lists the names a person types with labels that say which reward', async () => {
    const res = await get(`/v1/sweeps/${mixed.id}/fields`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.m).toBe(2);
    expect(body.variables).toEqual(['q', 'D', 'seed']);
    const label = new Map(body.fields.map((f: any) => [f.name, f.label]));
    expect(label.get('q')).toBe('q');
    expect(label.get('summary.basinShare.0')).toBe('basin share (reward 1)');
    expect(label.get('summary.basinShare.1')).toBe('basin share (reward 2)');
    expect(label.get('summary.final.mass.0')).toBe('final basin mass (reward 1)');
    expect(label.get('summary.audit.nash.utilities.1.0')).toBe('audit: Nash utility of reward 2 on the basin of reward 1');
    for (const f of body.fields) expect(f.label).not.toMatch(/basin [0-9]/);
    // every field is a stats metric, a where field and a CSV column under the same string
    const csvHeader = (await get(`/v1/sweeps/${mixed.id}/runs.csv`)).body.split('\r\n')[0].split(',');
    const summaryNames = body.fields.filter((f: any) => f.kind !== 'variable').map((f: any) => f.name);
    expect(csvHeader.filter((h: string) => h.startsWith('summary.'))).toEqual(summaryNames);
    for (let i = 0; i < summaryNames.length; i += 24) {
      const batch = summaryNames.slice(i, i + 24);
      const st = await get(`/v1/sweeps/${mixed.id}/stats?metrics=${batch.join(',')}`);
      expect(st.statusCode).toBe(200);
      expect(Object.keys(st.json().groups[0].metrics)).toEqual(batch);
    }
    for (const name of summaryNames) {
      const st = await get(`/v1/sweeps/${mixed.id}/stats?where=${encodeURIComponent(`${name}=null`)}`);
      expect(st.statusCode, name).toBe(200);
    }
    // the axis variables also answer to params.<name> (the CSV's spelling when a name clashes)
    const p = (await get(`/v1/sweeps/${mixed.id}/stats?groupBy=params.q&where=params.D%3D2`)).json();
    expect(p.groups.map((g: any) => g.key['params.q'])).toEqual(QS);
  });

  it('suggests the name meant on a typo', async () => {
    const typo = await get(`/v1/sweeps/${mixed.id}/stats?metrics=summary.nashgap`);
    expect(typo.statusCode).toBe(400);
    expect(typo.json().message).toMatch(/^metrics: unknown metric "summary.nashgap" \(did you mean "summary.nashGap"\?\)/);
    expect(typo.json().issues).toEqual([{ path: '/querystring/metrics', message: expect.stringContaining('did you mean') }]);
    const bare = await get(`/v1/sweeps/${mixed.id}/stats?metrics=outsideDecayRate`);
    expect(bare.json().message).toMatch(/did you mean "summary.outsideDecayRate"/);
    const v = await get(`/v1/sweeps/${mixed.id}/stats?groupBy=seeds`);
    expect(v.json().message).toMatch(/^groupBy: unknown groupBy variable "seeds" \(did you mean "seed"\?\)/);
  });
});
