// Pool threads load this plain-JS file, which registers tsx before importing the
// TypeScript task: threads then work whether or not the parent process was started
// with `--import tsx` (vitest's processes are not). Registering twice is harmless.
import { register } from 'tsx/esm/api';

register();
const mod = await import('./task.ts');

export default mod.default;
