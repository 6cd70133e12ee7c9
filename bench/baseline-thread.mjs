// Thread of the benchmark's one-process baseline: registers tsx (as the worker's pool
// threads do), then computes its share of the configurations in a plain loop.
import { register } from 'tsx/esm/api';

register();
await import('./baseline-thread.ts');
