// `npm run paper`: reproduce the paper. Runs scripts/paper.ts with the TypeScript sources
// (no build needed), after generating the Prisma client if it is missing.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const node = (args) => spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (node([join(root, 'scripts/ensure-prisma.mjs')]).status !== 0) process.exit(1);
const run = node(['--conditions=source', '--import', 'tsx', join(root, 'scripts/paper.ts'), ...process.argv.slice(2)]);
process.exit(run.status ?? 1);
