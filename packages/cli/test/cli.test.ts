// The `sweep` command, spawned as a user would run it.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simulate } from '@curation/core';

const BIN = new URL('../bin/sweep.mjs', import.meta.url).pathname;
const GOLDEN = new URL('../../core/test/golden', import.meta.url).pathname;

function sweep(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function close(a: number, b: number): boolean {
  const d = Math.abs(a - b);
  return d <= 1e-12 || d <= 1e-9 * Math.abs(b);
}

describe('sweep simulate', () => {
  it('prints the golden output for a golden config with --dist', () => {
    const r = sweep(['simulate', join(GOLDEN, 'b-finite-K5-real.json'), '--dist']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const expected = JSON.parse(readFileSync(join(GOLDEN, 'b-finite-K5-real.expected.json'), 'utf8'));
    expect(out.distribution).toHaveLength(expected.distribution.length);
    out.distribution.forEach((v: number, j: number) => expect(close(v, expected.distribution[j])).toBe(true));
    expect(close(out.summary.nashGap, expected.summary.nashGap)).toBe(true);
    expect(out.trajectory).toHaveLength(expected.trajectory.length);
  });

  it('reads stdin with "-", and omits the distribution without --dist', () => {
    const cfg = readFileSync(join(GOLDEN, 'a-two-rewards-inf.json'), 'utf8');
    const r = sweep(['simulate', '-'], cfg);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).not.toHaveProperty('distribution');
    expect(out.generator).toBeNull();
  });

  it('accepts YAML files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sweep-cli-'));
    const file = join(dir, 'run.yaml');
    writeFileSync(file, 'support: { kind: atoms, n: 3 }\nrewards:\n  - kind: table\n    values: [1, 0, 2]\niterations: 5\n');
    const r = sweep(['simulate', file]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).trajectory).toHaveLength(6);
  });

  it('sampled mode output is bit-identical across processes and equal to the in-process run', () => {
    const cfg = {
      support: { kind: 'grid', min: -2, max: 2, n: 31 },
      rewards: [{ kind: 'quadratic', center: -1 }, { kind: 'quadratic', center: 1 }],
      q: 0.3, K: 3, mode: 'sampled', samples: 2000, iterations: 10, seed: 12345,
    };
    const a = sweep(['simulate', '-', '--dist'], JSON.stringify(cfg));
    const b = sweep(['simulate', '-', '--dist'], JSON.stringify(cfg));
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout.trim()).toBe(JSON.stringify(simulate(cfg, { includeDistribution: true })));
  });

  it('an invalid config: exit code 2 and one line per problem naming the path', () => {
    const cfg = { support: { kind: 'grid', min: [0, 0], max: [1, 1], n: [3, 3] }, rewards: [{ kind: 'quadratic', center: [1, 2, 3] }], K: 1 };
    const r = sweep(['simulate', '-'], JSON.stringify(cfg));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual(['error: /rewards/0/center: must have 2 entries (got 3)', 'error: /K: must be >= 2 (got 1)']);
  });

  it('a config over the --max-cost budget is refused the same way', () => {
    const cfg = { support: { kind: 'grid', min: 0, max: 1, n: 2001 }, rewards: [{ kind: 'quadratic', center: 0.5 }], K: 8, iterations: 1000 };
    const r = sweep(['simulate', '-', '--max-cost', '0.001'], JSON.stringify(cfg));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: \/: too expensive/);
  });

  it('a missing file or bad JSON: one clear line, exit code 2', () => {
    const missing = sweep(['simulate', '/nonexistent/run.json']);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe('error: cannot read /nonexistent/run.json: no such file');
    const bad = sweep(['simulate', '-'], '{"support": ');
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/^error: stdin is not valid JSON/);
  });

  it('unknown options are usage errors (exit code 2)', () => {
    expect(sweep(['simulate', '-', '--bogus'], '{}').code).toBe(2);
  });
});
