#!/usr/bin/env node
// Entry point of the `sweep` command: the compiled CLI (dist/, `npm run build`). Under
// the "source" export condition (`node --conditions=source`, as the tests run it) the
// TypeScript sources run through tsx instead, a dev dependency loaded only then.
import module from 'node:module';

// Node >= 22.1 keeps the compiled code of every module it loads on disk for the next start.
module.enableCompileCache?.();
const entry = import.meta.resolve('@curation/cli/main');
if (entry.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
try {
  await import(entry);
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('/dist/')) {
    process.stderr.write('sweep: the CLI is not built; run `npm run build` in the repository first\n');
    process.exit(1);
  }
  throw err;
}
