// Runs a command to its end as a user would, without blocking this process (an API under
// test may be answering from this very process), and collects what it printed.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ProcessResult { code: number | null; stdout: string; stderr: string }

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Written to its standard input, which is then closed (empty by default). */
  input?: string;
}

export function runProcess(command: string, args: string[], o: RunOptions = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: o.cwd, env: o.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => {}); // a command that exits without reading its input
    child.stdin.end(o.input ?? '');
  });
}

/** The `sweep` bin, as npm installs it. */
export const SWEEP_BIN = fileURLToPath(new URL('../../packages/cli/bin/sweep.mjs', import.meta.url));

/** `sweep ARGS...` through the bin, with this Node. */
export const runSweep = (args: string[], o: RunOptions = {}): Promise<ProcessResult> =>
  runProcess(process.execPath, [SWEEP_BIN, ...args], o);
