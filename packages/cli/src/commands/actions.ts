// `sweep cancel ID` and `sweep retry ID`.
import type { Command } from 'commander';
import { ApiClient, addApiOptions, runApiCommand, type ActionReply, type ApiFlags } from '../api-client.ts';

interface ActionFlags extends ApiFlags { json?: boolean }

export async function runAction(action: 'cancel' | 'retry', id: string, flags: ActionFlags): Promise<number> {
  const client = ApiClient.fromFlags(flags);
  const reply = await client.post<ActionReply>(`/sweeps/${encodeURIComponent(id)}/${action}`);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(reply, null, 2)}\n`);
  } else {
    const n = reply.affected ?? 0;
    const what = action === 'cancel' ? `${n} run(s) cancelled` : `${n} run(s) queued again`;
    process.stdout.write(`sweep ${reply.id} ${reply.status}: ${what}\n`);
  }
  return 0;
}

export function registerActions(program: Command): void {
  const cancel = program
    .command('cancel')
    .description('cancel a queued or running sweep (exit 4 if it already ended)')
    .argument('<id>', 'sweep id')
    .option('--json', 'print the API reply as JSON');
  addApiOptions(cancel).action(async (id: string, flags: ActionFlags) => {
    await runApiCommand(() => runAction('cancel', id, flags));
  });

  const retry = program
    .command('retry')
    .description('re-run the failed and cancelled configurations of a sweep (exit 4 if there are none)')
    .argument('<id>', 'sweep id')
    .option('--json', 'print the API reply as JSON');
  addApiOptions(retry).action(async (id: string, flags: ActionFlags) => {
    await runApiCommand(() => runAction('retry', id, flags));
  });
}
