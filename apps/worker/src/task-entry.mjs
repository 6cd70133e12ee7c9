// Pool threads load this plain-JS file. Built, it sits in dist/ next to the compiled
// task.js and imports it. In the sources (tests, `npm run worker:dev`) it registers tsx
// before importing the TypeScript task, so threads work whether or not the parent
// process was started with `--import tsx` (vitest's processes are not); registering
// twice is harmless. tsx is a dev dependency, so production never imports it.
import { existsSync } from 'node:fs';

const compiled = new URL('./task.js', import.meta.url);
let mod;
if (existsSync(compiled)) {
  mod = await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  mod = await import('./task.ts');
}

export default mod.default;
