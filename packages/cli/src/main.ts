// The `sweep` command line. Each subcommand lives in its own module under
// commands/ and registers itself on the program.
import { Command, CommanderError } from 'commander';
import { registerSimulate } from './commands/simulate.ts';
import { registerSubmit } from './commands/submit.ts';
import { registerStatus } from './commands/status.ts';
import { registerActions } from './commands/actions.ts';
import { registerStats } from './commands/stats.ts';
import { registerExport } from './commands/export.ts';
import { registerPlot } from './commands/plot.ts';
import { registerBoundary } from './commands/boundary.ts';
import { registerAdmin } from './commands/admin.ts';
import { registerPaper } from './commands/paper.ts';
import { EXIT_USAGE } from './exit-codes.ts';

export function buildProgram(): Command {
  const program = new Command('sweep')
    .description('Curated-retraining dynamics: run one configuration locally, or talk to the sweep service')
    .showHelpAfterError()
    .exitOverride();
  registerSimulate(program);
  registerSubmit(program);
  registerStatus(program);
  registerActions(program);
  registerStats(program);
  registerExport(program);
  registerPlot(program);
  registerBoundary(program);
  registerAdmin(program);
  registerPaper(program);
  return program;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Commander already printed its message; help and version are not errors.
    process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
  } else {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
