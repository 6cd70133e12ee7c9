import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.ts';

// `npm run test:fast`: the unit and in-process tests (real Postgres and Redis, one
// process), for a quick check while working. Left to `npm test`: everything that starts
// other processes (API and worker processes, the `sweep` bin, servers of its own), the
// fault injections and the soak, and the browser test.
export const SLOW_TESTS = [
  'test/faults/**',
  'test/e2e/**',
  'test/browser/**',
  'test/own-servers.test.ts',
  'apps/worker/test/eviction.test.ts',
  'packages/cli/test/cli.test.ts',
  'packages/cli/test/client.test.ts',
  'packages/cli/test/admin.test.ts',
];

export default mergeConfig(base, defineConfig({
  test: {
    exclude: ['**/node_modules/**', ...SLOW_TESTS],
    // The API's property tests send thousands of requests; a tenth of them here (same
    // seed), all of them in `npm test`.
    env: { FC_RUNS_SCALE: process.env.FC_RUNS_SCALE ?? '0.1' },
  },
}));
