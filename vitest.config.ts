import { defineConfig } from 'vitest/config';

// Tests run the TypeScript sources, never dist/: `@curation/*` packages export their
// sources under the "source" condition. Vite resolves with it, and NODE_OPTIONS carries
// it to everything the tests start (worker threads, the `sweep` bin, API and worker
// processes through tsx).
const SOURCE = '--conditions=source';
if (!(process.env.NODE_OPTIONS ?? '').includes(SOURCE)) {
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} ${SOURCE}`.trim();
}

// Vite's default server conditions, with ours first.
const CONDITIONS = ['source', 'module', 'node', 'development|production'];

export const ALL_TESTS = ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'test/**/*.test.ts'];

export default defineConfig({
  resolve: { conditions: CONDITIONS },
  ssr: { resolve: { conditions: CONDITIONS, externalConditions: ['source'] } },
  test: {
    include: ALL_TESTS,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
