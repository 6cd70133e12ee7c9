// CPU seconds per part of the service, read from /proc (Linux), so the benchmark can
// say where the time beyond the core went: the compute threads of the workers, their
// main threads, the API (this process), Postgres and Redis.
import { readdirSync, readFileSync } from 'node:fs';

const TICK = 100; // USER_HZ on Linux

function ticksOf(statPath: string): { comm: string; ticks: number } | undefined {
  try {
    const s = readFileSync(statPath, 'utf8');
    const close = s.lastIndexOf(')');
    const comm = s.slice(s.indexOf('(') + 1, close);
    const f = s.slice(close + 2).split(' ');
    return { comm, ticks: Number(f[11]) + Number(f[12]) }; // utime + stime
  } catch {
    return undefined; // the process or thread ended
  }
}

/** CPU seconds of a process split into its main thread and its other threads. */
export function threadSeconds(pid: number): { main: number; others: number } {
  let main = 0;
  let others = 0;
  let tids: string[] = [];
  try { tids = readdirSync(`/proc/${pid}/task`); } catch { /* gone */ }
  for (const tid of tids) {
    const t = ticksOf(`/proc/${pid}/task/${tid}/stat`);
    if (!t) continue;
    if (Number(tid) === pid) main += t.ticks / TICK;
    else others += t.ticks / TICK;
  }
  return { main, others };
}

/** CPU seconds of every process whose command name is `comm` (e.g. all Postgres backends). */
export function commandSeconds(comm: string): number {
  let sum = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const t = ticksOf(`/proc/${pid}/stat`);
    if (t && t.comm === comm) sum += t.ticks / TICK;
  }
  return sum;
}
