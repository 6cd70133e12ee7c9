// The paper kit's report is a pure function of (published data, results): its verdicts
// follow from the numbers and the stated tolerances, and the kit's files hold what the
// report needs (sources, tolerances, a reading per experiment).
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildReport } from '../src/paper/report.ts';
import { loadKit } from '../src/paper/kit.ts';
import type { ExperimentResult, KitResults, Published, RunRecord, RunSummary } from '../src/paper/types.ts';

const KIT = new URL('../../../examples/paper/', import.meta.url).pathname;

const published: Published = {
  paper: { title: 'T', authors: ['A B'], venue: 'V' },
  transcription: 'only two numbers',
  notTranscribed: [{ table: 'Table 3', what: 'the rest' }],
  values: [
    {
      id: 't3', source: { table: 'Table 3', row: 'q = 0.1', column: 'D = 6', via: 'test' }, quantity: 'share',
      params: { q: 0.1, D: 6 }, value: 0.095, experiments: ['table3-gaussian', 'table3-quadratic'], tolerance: { abs: 0.0015, why: 'test' },
    },
    {
      id: 't5', source: { table: 'Table 5', row: 'D = 2', via: 'test' }, quantity: 'meanSquareNashGap',
      params: { D: 2 }, value: 1e-4, experiments: ['table5-gaussian'], tolerance: { rel: 0.01, why: 'test' },
    },
  ],
  claims: [
    { id: 'p34', source: { result: 'Prop 3.4', via: 'test' }, statement: 'share = q', check: 'shareEqualsQ', experiment: 'plateau', tolerance: { abs: 1e-9 } },
    { id: 'fk', source: { result: 'finite K', via: 'test' }, statement: 'dies when qK < 1', check: 'qKRule', experiment: 'finite-k', tolerance: { agreement: 0.8 } },
  ],
};

function summary(share: number, q: number, extra: Partial<RunSummary> = {}): RunSummary {
  return {
    converged: true, convergedAt: 10,
    final: { entropy: 1, effectiveSupport: Math.E, mass: [share, 1 - share], outside: 0 },
    basinShare: [share, 1 - share], nashGap: Math.abs(share - q), collapsed: false, survivingBasins: 2, outsideDecayRate: -0.1,
    audit: {
      disjoint: true, initMass: [0.3, 0.3], gapsExceed2eps: [true, true], inWindow: true, interval: [0, 1],
      outsideDomination: 0.5, largeK: true, applies: true, inInterval: true,
    },
    ...extra,
  };
}

const run = (index: number, params: Record<string, unknown>, s: RunSummary): RunRecord =>
  ({ index, params, status: 'succeeded', summary: s, contract: 2, coreVersion: '2.0.0', error: null });

function experiment(id: string, variables: string[], runs: RunRecord[], extra: Partial<ExperimentResult> = {}): ExperimentResult {
  return { id, file: `${id}.yaml`, name: id, description: `${id} reading`, header: 'Grid: small.', variables, total: runs.length, status: 'succeeded', runs, ...extra };
}

function results(experiments: ExperimentResult[]): KitResults {
  return {
    kit: 'curation-sweeps paper kit', mode: 'in-process', startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:01.000Z', wallSeconds: 1, computed: 1, experiments,
  };
}

const table3 = (gaussianShare: number, quadraticShare: number) => [
  experiment('table3-gaussian', ['q', 'D'], [run(0, { q: 0.1, D: 6 }, summary(gaussianShare, 0.1))]),
  experiment('table3-quadratic', ['q', 'D', 'iterations'], [
    run(0, { q: 0.1, D: 6, iterations: 50 }, summary(quadraticShare, 0.1)),
    run(1, { q: 0.1, D: 6, iterations: 2000 }, summary(quadraticShare, 0.1)),
  ]),
];

describe('verdicts on published values', () => {
  it('follow |ours - paper| against the stated tolerance, per reading, with the numbers', () => {
    const r = buildReport(published, results(table3(0.0945, 0.1)));
    const rows = r.values.filter((v) => v.id === 't3');
    expect(rows.map((v) => [v.reading, v.verdict])).toEqual([
      ['gaussian', 'reproduced'], ['quadratic, T = 50', 'not reproduced'], ['quadratic, T = 2000', 'not reproduced'],
    ]);
    expect(rows[0].diff).toBeCloseTo(-0.0005, 12);
    expect(rows[1].diff).toBeCloseTo(0.005, 12);
    expect(r.markdown).toContain('| 0.095000 | 0.094500 | -0.000500 | ±0.001500 | **reproduced** |');
    expect(r.markdown).toMatch(/reproduced under gaussian; not under quadratic, T = 50/);
  });

  it('change one stored share and the verdict changes; nothing else does', () => {
    const before = buildReport(published, results(table3(0.0945, 0.1)));
    const after = buildReport(published, results(table3(0.0935, 0.1)));
    expect(before.values[0].verdict).toBe('reproduced');
    expect(after.values[0].verdict).toBe('not reproduced');
    expect(after.values.slice(1)).toEqual(before.values.slice(1));
  });

  it('says plainly when no reading reproduces a value', () => {
    const r = buildReport(published, results(table3(0.08, 0.1)));
    expect(r.values.filter((v) => v.id === 't3').every((v) => v.verdict === 'not reproduced')).toBe(true);
    expect(r.markdown).toMatch(/Table 3 \(q = 0\.1, D = 6\) = 0\.095000: \*\*no reading in this kit reproduces it\*\*/);
  });

  it('Table 5 uses the service\'s meanSquare when fetched, else the mean of nashGap^2 over q', () => {
    const shares = [0.09, 0.21];
    const runs = [0.1, 0.2].map((q, i) => run(i, { q, D: 2 }, summary(shares[i], q)));
    const local = buildReport(published, results([experiment('table5-gaussian', ['q', 'D'], runs)]));
    expect(local.values[0].ours).toBeCloseTo((0.01 ** 2 + 0.01 ** 2) / 2, 15);
    expect(local.values[0].verdict).toBe('reproduced');
    expect(local.values[0].basis).toMatch(/computed from the runs over 2 q values/);
    const stats = [{ key: { D: 2 }, n: 2, metrics: { 'summary.nashGap': { count: 2, mean: 0.01, meanSquare: 2e-4 } } }];
    const service = buildReport(published, results([experiment('table5-gaussian', ['q', 'D'], runs, { nashGapStats: stats })]));
    expect(service.values[0].ours).toBe(2e-4);
    expect(service.values[0].verdict).toBe('not reproduced');
    expect(service.values[0].basis).toMatch(/service's stats/);
  });

  it('a run that did not succeed gives "no result", and a missing experiment is simply not compared', () => {
    const failed = experiment('table3-gaussian', ['q', 'D'], [{ ...run(0, { q: 0.1, D: 6 }, summary(0.0945, 0.1)), status: 'failed', summary: null }]);
    const r = buildReport(published, results([failed]));
    expect(r.values).toEqual([expect.objectContaining({ id: 't3', verdict: 'no result', ours: null })]);
    expect(r.markdown).toMatch(/Table 5 \(D = 2\) = 1\.000e-4: not compared/);
    expect(r.claims.map((c) => c.verdict)).toEqual(['no result', 'no result']);
  });
});

describe('checks of stated results', () => {
  it('share = q holds within the tolerance and fails beyond it', () => {
    const plateau = (err: number) => experiment('plateau', ['q'], [0.2, 0.5].map((q, i) => run(i, { q }, summary(q + (i ? err : 0), q))));
    expect(buildReport(published, results([plateau(1e-12)])).claims[0].verdict).toBe('holds');
    const off = buildReport(published, results([plateau(1e-6)])).claims[0];
    expect(off.verdict).toBe('does not hold');
    expect(off.evidence).toMatch(/1\.000e-6 \(at q = 0\.5\)/);
  });

  it('the q K rule is judged by its agreement rate over the map', () => {
    const grid = (dieAbove: number) => experiment('finite-k', ['q', 'K'], [2, 4, 8, 16, 32].map((K, i) =>
      run(i, { q: 0.1, K }, summary(K > dieAbove ? 0.1 : 1e-30, 0.1, { survivingBasins: K > dieAbove ? 2 : 1 }))));
    expect(buildReport(published, results([grid(8)])).claims[1].verdict).toBe('holds');
    expect(buildReport(published, results([grid(16)])).claims[1].evidence).toMatch(/matches 4 of 5 runs \(80%, needed 80%\); the others: q = 0\.1, K = 16/);
    expect(buildReport(published, results([grid(16)])).claims[1].verdict).toBe('holds');
    const bad = buildReport(published, results([grid(32)])).claims[1];
    expect(bad.verdict).toBe('does not hold');
    expect(bad.evidence).toMatch(/matches 3 of 5 runs \(60%, needed 80%\)/);
  });
});

describe('the report is a pure function', () => {
  it('the same input gives the same report and the input is left unchanged', () => {
    const input = results([...table3(0.0945, 0.1), experiment('finite-k', ['q', 'K'], [run(0, { q: 0.1, K: 4 }, summary(0, 0.1, { survivingBasins: 1 }))])]);
    const copy = JSON.parse(JSON.stringify(input));
    const a = buildReport(published, input);
    const b = buildReport(published, input);
    expect(a).toEqual(b);
    expect(input).toEqual(copy);
    expect(Object.keys(a.figures).sort()).toEqual(['finite-k.svg', 'table3-share-q0.1.svg']);
    for (const name of Object.keys(a.figures)) expect(a.markdown).toContain(`](${name})`);
  });
});

describe('the kit in examples/paper', () => {
  const kit = loadKit(KIT);
  const specs = readdirSync(KIT).filter((f) => f.endsWith('.yaml'));

  it('every spec is valid and its header names the paper\'s result and the reading', () => {
    expect(kit.specs.map((s) => s.file).sort()).toEqual(specs.sort());
    for (const s of kit.specs) {
      expect(s.header, s.file).toMatch(/^(Paper: Falahati et al\. \(ICML 2026\)|Beyond the paper:)/);
      expect(s.header, s.file).toMatch(/Reading: [A-Z]/);
      expect(s.header, s.file).toMatch(/Grid: /);
      expect(s.spec.tags, s.file).toContain('paper');
    }
  });

  it('every published number has a source, a tolerance with its reason, and experiments the kit has', () => {
    const ids = new Set(kit.specs.map((s) => s.id));
    const raw = JSON.parse(readFileSync(`${KIT}published.json`, 'utf8')) as Published;
    expect(raw.values.length).toBeGreaterThan(0);
    for (const v of raw.values) {
      expect(v.source.table).toMatch(/^Table \d/);
      expect(v.source.row).not.toBe('');
      expect(v.source.via).not.toBe('');
      expect(v.tolerance.abs ?? v.tolerance.rel).toBeGreaterThan(0);
      expect(v.tolerance.why).not.toBe('');
      for (const e of v.experiments) expect(ids.has(e), `${v.id}: ${e}`).toBe(true);
    }
    for (const c of raw.claims) expect(ids.has(c.experiment), c.id).toBe(true);
    expect(raw.transcription).toMatch(/not available offline/);
  });
});
