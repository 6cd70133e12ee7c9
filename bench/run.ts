// `npm run bench`: every benchmark of the project, one after the other, each printing
// its own table. Pass names to run a subset: `npm run bench -- core stats`.
const suites: Record<string, () => Promise<unknown>> = {
  core: async () => (await import('../packages/core/bench/core-bench.ts')).runCoreBench(),
  'finite-k': async () => (await import('../packages/core/bench/finite-k-bench.ts')).runFiniteKBench(),
  service: async () => (await import('./service-bench.ts')).runServiceBench(),
  stats: async () => (await import('./stats-bench.ts')).runStatsBench(),
  'stats-scale': async () => (await import('./stats-scale-bench.ts')).runStatsScaleBench(),
  start: async () => (await import('./start-bench.ts')).runStartBench(),
  refine: async () => (await import('./refine-bench.ts')).runRefineBench(),
  scale: async () => (await import('./scale-bench.ts')).runScaleBench(),
  'refine-service': async () => (await import('./refine-service-bench.ts')).runRefineServiceBench(),
  'refine-full-grid': async () => (await import('./refine-service-bench.ts')).runRefineFullGridBench(),
  prisma: async () => (await import('./prisma-bench.ts')).runPrismaBench(),
  peer: async () => (await import('./peer/run.ts')).runPeerBench(),
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = wanted.filter((w) => !(w in suites));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(suites).join(', ')}`);
  process.exit(2);
}
for (const name of wanted.length ? wanted : Object.keys(suites)) {
  console.log(`\n=== ${name} ===`);
  const started = performance.now();
  await suites[name]();
  console.log(`(${name}: ${((performance.now() - started) / 1000).toFixed(1)} s)`);
}
