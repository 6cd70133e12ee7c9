// `npm run build`: generate the Prisma client if needed, compile every workspace to its
// dist/ with `tsc -b` (project references, incremental: an up-to-date tree costs about
// a second), and copy the dashboard's static files next to the compiled API.
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const node = (args) => spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' }).status === 0;

if (!node([join(root, 'scripts/ensure-prisma.mjs')])) process.exit(1);
if (!node([join(root, 'node_modules/typescript/bin/tsc'), '-b', ...process.argv.slice(2)])) {
  console.error('build: tsc -b failed');
  process.exit(1);
}
const web = join(root, 'apps/api/dist/web');
rmSync(web, { recursive: true, force: true });
cpSync(join(root, 'apps/api/src/web'), web, { recursive: true });
