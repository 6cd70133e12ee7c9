// The `sweep` command line. Each subcommand lives in its own module under
// commands/ and registers itself on the program.
import { Command, CommanderError } from 'commander';
import { registerSimulate } from './commands/simulate.ts';
import { EXIT_USAGE } from './exit-codes.ts';

export function buildProgram(): Command {
  const program = new Command('sweep')
    .description('Curated-retraining dynamics: run one configuration locally, or talk to the sweep service')
    .showHelpAfterError()
    .exitOverride();
  registerSimulate(program);
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
