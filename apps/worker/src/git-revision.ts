// The service's revision recorded with every result, so a stored number can be traced
// to the code that produced it. Resolved once: a worker does not change revision.
import { execFileSync } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function gitRevision(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GIT_REVISION) return env.GIT_REVISION;
  if (cached !== undefined) return cached;
  try {
    cached = execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: dirname(fileURLToPath(import.meta.url)),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    }).trim() || 'unknown';
  } catch {
    // Container images usually ship without .git or without git itself.
    cached = 'unknown';
  }
  return cached;
}
