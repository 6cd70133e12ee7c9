// `npm test`: generate what tests need, run the whole vitest suite, and end with one
// line `Tests: N passed, N failed` taken from vitest's own JSON report.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const step = (args) => spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });

if (step([join(root, 'scripts/ensure-prisma.mjs')]).status !== 0) process.exit(1);

const dir = mkdtempSync(join(tmpdir(), 'curation-tests-'));
const report = join(dir, 'vitest.json');
const run = step([
  join(root, 'node_modules/vitest/vitest.mjs'), 'run',
  '--reporter=default', '--reporter=json', `--outputFile.json=${report}`,
  ...process.argv.slice(2),
]);

let passed = 0;
let failed = 0;
try {
  const json = JSON.parse(readFileSync(report, 'utf8'));
  passed = json.numPassedTests;
  failed = json.numFailedTests + (json.numRuntimeErrorTestSuites ?? 0);
  if (json.numFailedTestSuites && !json.numFailedTests) failed += json.numFailedTestSuites;
} catch {
  failed = Math.max(failed, 1); // no report: the runner itself broke
}
rmSync(dir, { recursive: true, force: true });
console.log(`Tests: ${passed} passed, ${failed} failed`);
process.exit(run.status === 0 && failed === 0 ? 0 : 1);
