// Generates the Prisma client when it is missing or older than the schema. Runs before
// tests, the demo, the API and the worker, because nothing may depend on an install
// script. Prisma 7's CLI looks for its native schema engine at start although
// `generate` never uses it; offline it cannot be downloaded, so point it at any
// existing file unless the caller named a real engine.
import { existsSync, rmSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const schema = join(root, 'prisma/schema.prisma');
const client = join(root, 'packages/db/generated/prisma/client.ts');

const cli = join(root, 'node_modules/prisma/build/index.js');
if (!existsSync(cli)) {
  console.error('dependencies are not installed: run `npm ci` first (or `npm run demo`, which installs them)');
  process.exit(1);
}

if (!existsSync(client) || statSync(client).mtimeMs < statSync(schema).mtimeMs) {
  const env = { ...process.env };
  env.PRISMA_SCHEMA_ENGINE_BINARY ??= process.execPath;
  env.PRISMA_HIDE_UPDATE_MESSAGE = '1';
  execFileSync(process.execPath, [cli, 'generate'], {
    cwd: root,
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  // The build compiles the client in place (packages/db/tsconfig.prisma.json): make it
  // compile the new one whole.
  rmSync(join(root, 'packages/db/generated/.tsbuildinfo'), { force: true });
}
