// `sweep submit SPEC [--follow]` : submit a sweep specification (JSON or YAML) and print its id.
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { ApiClient, addApiOptions, runApiCommand, withRetries, type ApiFlags, type SubmitReply } from '../api-client.ts';
import { followSweep } from '../follow.ts';
import { readInput } from '../read-input.ts';

interface SubmitFlags extends ApiFlags {
  follow?: boolean;
  idempotencyKey?: string;
  interval: number;
  json?: boolean;
}

export function parseInterval(value: string): number {
  const v = Number(value);
  if (!(v >= 50)) throw new InvalidArgumentError('must be a number of milliseconds >= 50');
  return v;
}

export async function runSubmit(source: string, flags: SubmitFlags): Promise<number> {
  const client = ApiClient.fromFlags(flags);
  const spec = await readInput(source);
  // One key per invocation, the same on every retry: a submission whose answer was lost
  // returns the sweep it created instead of creating another.
  const key = flags.idempotencyKey || randomUUID();
  const reply = await withRetries(() => client.post<SubmitReply>('/sweeps', {
    body: spec.text,
    contentType: spec.format === 'yaml' ? 'application/yaml' : 'application/json',
    headers: { 'idempotency-key': key },
  }), 'submit');
  process.stdout.write(flags.json ? `${JSON.stringify(reply)}\n` : `${reply.id}\n`);
  if (!flags.follow) {
    if (!flags.json) process.stderr.write(`submitted ${reply.total} configuration(s); follow with: sweep status ${reply.id}\n`);
    return 0;
  }
  return followSweep(client, reply.id, { intervalMs: flags.interval });
}

export function registerSubmit(program: Command): void {
  const cmd = program
    .command('submit')
    .description('submit a sweep specification (JSON or YAML file, or - for stdin) and print its id')
    .argument('<spec>', 'sweep specification (.json, .yaml, .yml) or - for stdin')
    .option('-f, --follow', 'then show progress until the sweep ends (Ctrl-C detaches; the sweep goes on)')
    .option('--idempotency-key <key>', 'the Idempotency-Key sent (default: a random one per run, reused by its retries); a repeat with the same key returns the first sweep')
    .option('--interval <ms>', 'polling period while following', parseInterval, 500)
    .option('--json', 'print the API reply { id, total, status } as JSON instead of the id');
  addApiOptions(cmd).action(async (source: string, flags: SubmitFlags) => {
    await runApiCommand(() => runSubmit(source, flags));
  });
}
