// `npm run paper [-- options of sweep paper]`: the paper kit through the sweep service.
// With --api, SWEEP_API or SWEEP_API_KEY set it uses that service, as `sweep paper` does;
// with --in-process it needs no service. Otherwise it starts one here, as the demo does:
// migrations, a team of its own (paper-<timestamp>) with a key, the API and two workers
// as real processes, stopped again at the end.
import { Command } from 'commander';
import { createKey, createPool, createTeam, databaseUrl, migrate } from '@curation/db';
import { registerPaper } from '../packages/cli/src/commands/paper.ts';
import { startLocalService, type LocalService } from './local-service.ts';

const args = process.argv.slice(2);

let service: LocalService | undefined;
const stopAll = async () => { await service?.stop(); };
process.on('SIGINT', () => { void stopAll().then(() => process.exit(130)); });

async function startService(): Promise<void> {
  const url = databaseUrl();
  await migrate(url);
  const pool = createPool(url, 1);
  try {
    const team = await createTeam(pool, `paper-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    process.env.SWEEP_API_KEY = (await createKey(pool, team.id, { name: 'paper' })).key;
  } finally {
    await pool.end();
  }
  // The sources through tsx: `npm run paper` needs no build.
  service = await startLocalService({ name: 'paper', compiled: false });
  const base = service.base;
  await service.ready();
  process.env.SWEEP_API = base;
  console.error(`paper: started the API at ${base} and 2 workers (team of its own)`);
}

const ownService = !args.includes('--in-process') && !args.includes('--from') && !args.some((a) => a === '--api' || a.startsWith('--api=')) &&
  !process.env.SWEEP_API && !process.env.SWEEP_API_KEY && !args.includes('-h') && !args.includes('--help');
try {
  if (ownService) await startService();
  const program = new Command('npm run paper --').exitOverride();
  registerPaper(program);
  await program.parseAsync(['paper', ...args], { from: 'user' });
} catch (err) {
  if ((err as { code?: string }).code !== 'commander.helpDisplayed') {
    console.error(`paper failed: ${(err as Error).message}`);
    process.exitCode = 1;
  }
} finally {
  await stopAll();
}
