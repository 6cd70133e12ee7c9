// CPU seconds per part of the service, read from /proc (Linux), so the benchmark can
// say where the time beyond the core went: the compute threads of the workers, their
// main threads, the API (this process), Postgres and Redis.
import { readdirSync, readFileSync } from 'node:fs';

const TICK = 100; // USER_HZ on Linux

/** utime + stime; with `reaped`, also the CPU of children it has waited for (cutime + cstime). */
function ticksOf(statPath: string, reaped = false): { comm: string; ticks: number } | undefined {
  try {
    const s = readFileSync(statPath, 'utf8');
    const close = s.lastIndexOf(')');
    const comm = s.slice(s.indexOf('(') + 1, close);
    const f = s.slice(close + 2).split(' ');
    const own = Number(f[11]) + Number(f[12]);
    return { comm, ticks: reaped ? own + Number(f[13]) + Number(f[14]) : own };
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

/**
 * CPU seconds of every process whose command name is `comm` (e.g. all Postgres
 * backends), counting the processes that ended meanwhile through their parent's
 * reaped-children time (a backend whose pooled connection idled out would otherwise
 * take its CPU with it, and the difference could even come out negative).
 */
export function commandSeconds(comm: string): number {
  let sum = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const t = ticksOf(`/proc/${pid}/stat`, true);
    if (t && t.comm === comm) sum += t.ticks / TICK;
  }
  return sum;
}

/** The parent process id of `pid` (0 when it is gone). */
function parentOf(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

/**
 * CPU seconds of the Postgres cluster that runs backend `backendPid`: its postmaster
 * (with the backends it reaped) and every process it started. Statements of other
 * databases of the same cluster count too (on a shared machine, other users'); the
 * processes of another cluster on the machine do not.
 */
export function clusterSeconds(backendPid: number): number {
  const postmaster = parentOf(backendPid);
  if (!postmaster) return commandSeconds('postgres');
  let sum = ticksOf(`/proc/${postmaster}/stat`, true)?.ticks ?? 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || parentOf(Number(pid)) !== postmaster) continue;
    sum += ticksOf(`/proc/${pid}/stat`)?.ticks ?? 0;
  }
  return sum / TICK;
}
