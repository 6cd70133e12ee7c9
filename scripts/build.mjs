// `npm run build`: generate the Prisma client if needed, compile every workspace to its
// dist/ with `tsc -b` (project references, incremental: an up-to-date tree costs about
// a second), and copy the dashboard's static files next to the compiled API.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const node = (args) => spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' }).status === 0;

if (!node([join(root, 'scripts/ensure-prisma.mjs')])) process.exit(1);
// tsc -b trusts its build info; if a compiled file of the generated client is missing
// (a generate that ran during a build), compile the client again.
const generated = join(root, 'packages/db/generated/prisma');
const missing = existsSync(generated) && readdirSync(generated, { recursive: true })
  .some((f) => String(f).endsWith('.ts') && !String(f).endsWith('.d.ts') && !existsSync(join(generated, String(f).replace(/\.ts$/, '.js'))));
if (missing) rmSync(join(root, 'packages/db/generated/.tsbuildinfo'), { force: true });
if (!node([join(root, 'node_modules/typescript/bin/tsc'), '-b', ...process.argv.slice(2)])) {
  console.error('build: tsc -b failed');
  process.exit(1);
}
const web = join(root, 'apps/api/dist/web');
rmSync(web, { recursive: true, force: true });
cpSync(join(root, 'apps/api/src/web'), web, { recursive: true });
