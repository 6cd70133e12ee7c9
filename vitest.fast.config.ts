import { availableParallelism } from 'node:os';
import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.ts';

// `npm run test:fast`: the unit and in-process tests (real Postgres and Redis, one
// process per test file), for a quick check while working; `npm test` runs them too.
// Left to `npm test`: every file that starts other processes (API and worker
// processes, the `sweep` bin, servers of its own), the fault injections and the soak,
// and the browser test. docs/build-and-ci.md ("Test tiers") has the boundary and time.
export const SLOW_TESTS = [
  'test/faults/**',
  'test/e2e/**',
  'test/browser/**',
  'test/own-servers.test.ts',
  'test/readme.test.ts',
  'test/migrate.test.ts',
  'apps/worker/test/eviction.test.ts',
  'packages/cli/test/cli.test.ts',
  'packages/cli/test/client.test.ts',
  'packages/cli/test/admin.test.ts',
  'packages/cli/test/admin-reader.test.ts',
  'packages/cli/test/ids-progress.test.ts',
];

// Speed, against vitest's defaults here (every file in a fresh module graph, one file at
// a time on two cores): each fork keeps its modules from file to file (isolate: false),
// so Fastify, Prisma Client and the sources are loaded once per fork instead of once per
// file, which was most of the tier's CPU; and one file per core runs at once, so one
// file's waits on Postgres and Redis overlap another's computing (each has its own
// database and BullMQ prefix). Files of this tier therefore leave no global state behind
// (environment, timers, module-level settings). The whole suite keeps vitest's defaults:
// its process and timing tests want the cores to themselves.
const FILES_AT_ONCE = Number(process.env.TEST_FAST_FILES_AT_ONCE ?? Math.max(2, availableParallelism()));

export default mergeConfig(base, defineConfig({
  test: {
    exclude: ['**/node_modules/**', ...SLOW_TESTS],
    poolOptions: { forks: { maxForks: FILES_AT_ONCE, minForks: 1, isolate: false } },
    // The API's property tests send thousands of requests; a tenth of them here (same
    // seed), all of them in `npm test`.
    env: { FC_RUNS_SCALE: process.env.FC_RUNS_SCALE ?? '0.1' },
  },
}));
