// Following a sweep until it ends: a progress bar on a terminal, plain lines otherwise
// (both on stderr, so stdout keeps only the sweep id). Ctrl-C detaches: the sweep goes on.
import { ApiHttpError, ApiUnreachableError, FINISHED, type ApiClient, type Sweep } from './api-client.ts';
import { EXIT_FAILURE, EXIT_OK } from './exit-codes.ts';
import { formatDuration, formatRate } from './format.ts';

export interface FollowOptions {
  intervalMs?: number;
  /** Progress bar (true) or plain lines (false); default: whether stderr is a terminal. */
  tty?: boolean;
  /** Consecutive failed polls (API unreachable, 5xx, 429) tolerated before giving up. */
  maxPollFailures?: number;
}

const RATE_WINDOW_MS = 10_000;

/** Runs that will not run again: finished, failed or cancelled (what the rate and the ETA count). */
const settledOf = (s: Sweep) => s.counts.succeeded + s.counts.failed + s.counts.cancelled;

/** Runs served from stored results, when the API reports it (counts.reused). */
const reusedOf = (s: Sweep): number | undefined => {
  const r = (s.counts as { reused?: unknown }).reused;
  return typeof r === 'number' ? r : undefined;
};

/**
 * `12/240 done (5%), 228 cancelled`, `18/18 done (100%), 18 of 18 reused`: done counts
 * the runs that ran (succeeded or failed), so a cancelled sweep never reads 100% done.
 */
export function progressText(s: Sweep): string {
  const c = s.counts;
  const done = c.succeeded + c.failed;
  const pct = c.total ? Math.floor((100 * done) / c.total) : 100;
  const reused = reusedOf(s);
  return `${done}/${c.total} done (${pct}%)` +
    (c.cancelled ? `, ${c.cancelled} cancelled` : '') +
    (reused ? `, ${reused} of ${c.succeeded} reused` : '');
}

/** Completion rate over the last few seconds of polls, else since the sweep started. */
class RateMeter {
  private samples: { t: number; done: number }[] = [];
  add(t: number, done: number): void {
    this.samples.push({ t, done });
    while (this.samples.length > 2 && t - this.samples[1].t >= RATE_WINDOW_MS) this.samples.shift();
  }
  /** Whether rate() comes from polls of the last few seconds. */
  get recent(): boolean {
    return this.samples.length > 1 && this.samples[this.samples.length - 1].t - this.samples[0].t >= 1000;
  }
  rate(s: Sweep, now: number): number | null {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (first && last && last.t - first.t >= 1000) return (last.done - first.done) / ((last.t - first.t) / 1000);
    if (s.startedAt) {
      const elapsed = (now - Date.parse(s.startedAt)) / 1000;
      if (elapsed > 0.5) return settledOf(s) / elapsed;
    }
    return null;
  }
}

/** From the recent completion rate when there is one (it follows changes quickly), else the API's etaSeconds. */
function eta(s: Sweep, rate: number | null, recent: boolean): number | null {
  const remaining = s.counts.total - settledOf(s);
  if (remaining <= 0) return 0;
  if (recent && rate && rate > 0) return remaining / rate;
  return s.etaSeconds ?? (rate && rate > 0 ? remaining / rate : null);
}

const transient = (err: unknown) =>
  err instanceof ApiUnreachableError || (err instanceof ApiHttpError && (err.status >= 500 || err.status === 429));

export function finalLine(s: Sweep): string {
  const c = s.counts;
  const took = s.startedAt && s.finishedAt ? ` in ${formatDuration((Date.parse(s.finishedAt) - Date.parse(s.startedAt)) / 1000)}` : '';
  const reused = reusedOf(s);
  const fromStore = reused ? `; ${reused} of ${c.succeeded} reused from earlier results` : '';
  return `sweep ${s.id} ${s.status}: ${c.succeeded} succeeded, ${c.failed} failed, ${c.cancelled} cancelled of ${c.total}${took}${fromStore}`;
}

export const exitCodeForSweep = (s: Sweep) => (s.status === 'succeeded' ? EXIT_OK : EXIT_FAILURE);

/** Polls GET /v1/sweeps/:id until the sweep ends; returns 0 if it succeeded, 1 if it failed or was cancelled, 0 when detached. */
export async function followSweep(client: ApiClient, id: string, o: FollowOptions = {}): Promise<number> {
  const intervalMs = o.intervalMs ?? 500;
  const tty = o.tty ?? Boolean(process.stderr.isTTY);
  const maxFailures = o.maxPollFailures ?? 20;
  const startedFollowing = Date.now();
  const meter = new RateMeter();
  const abort = new AbortController();
  let wake: (() => void) | undefined;
  const onSigint = () => {
    abort.abort();
    wake?.();
  };
  process.on('SIGINT', onSigint);

  // Loaded only for a terminal: the bar is all it is used for.
  const cliProgress = tty ? (await import('cli-progress')).default : undefined;
  const bar = cliProgress
    ? new cliProgress.SingleBar({
      format: '{bar} {value}/{total} done | running {running} | failed {failed}{extra} | {rate} runs/s | ETA {etaText}',
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      etaBuffer: 1,
      stream: process.stderr,
    }, cliProgress.Presets.shades_classic)
    : undefined;
  let barStarted = false;
  let lastLine = 0;
  let lastKey = '';
  let failures = 0;

  const show = (s: Sweep) => {
    const now = Date.now();
    const done = s.counts.succeeded + s.counts.failed;
    meter.add(now, settledOf(s));
    const rate = meter.rate(s, now);
    const reused = reusedOf(s);
    const extra = (s.counts.cancelled ? ` | cancelled ${s.counts.cancelled}` : '') + (reused ? ` | reused ${reused}` : '');
    const payload = { running: s.counts.running, failed: s.counts.failed, extra, rate: formatRate(rate), etaText: formatDuration(eta(s, rate, meter.recent)) };
    if (bar) {
      if (!barStarted) {
        bar.start(s.counts.total, done, payload);
        barStarted = true;
      } else {
        bar.setTotal(s.counts.total);
        bar.update(done, payload);
      }
      return;
    }
    const key = `${s.status} ${settledOf(s)} ${s.counts.running} ${s.counts.failed} ${reused}`;
    const since = now - lastLine;
    if ((key !== lastKey && since >= 1000) || since >= 10_000 || lastLine === 0) {
      const elapsed = formatDuration((now - startedFollowing) / 1000);
      process.stderr.write(
        `[${elapsed}] ${s.status}: ${progressText(s)}, ${s.counts.running} running, ` +
        `${s.counts.failed} failed, ${payload.rate} runs/s, ETA ${payload.etaText}\n`,
      );
      lastLine = now;
      lastKey = key;
    }
  };

  try {
    for (;;) {
      let sweep: Sweep | undefined;
      try {
        sweep = await client.get<Sweep>(`/sweeps/${encodeURIComponent(id)}`, undefined, abort.signal);
        failures = 0;
      } catch (err) {
        if (abort.signal.aborted) break;
        if (!transient(err) || ++failures > maxFailures) throw err;
      }
      if (sweep) {
        show(sweep);
        if (FINISHED.includes(sweep.status)) {
          if (bar) bar.stop();
          process.stderr.write(`${finalLine(sweep)}\n`);
          return exitCodeForSweep(sweep);
        }
      }
      if (abort.signal.aborted) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, failures ? Math.min(intervalMs * 2 ** failures, 5000) : intervalMs);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = undefined;
      if (abort.signal.aborted) break;
    }
    // Ctrl-C: leave the sweep running.
    if (bar && barStarted) bar.stop();
    process.stderr.write(`detached; the sweep goes on: sweep status ${id}\n`);
    return EXIT_OK;
  } finally {
    if (bar && barStarted) bar.stop();
    process.off('SIGINT', onSigint);
  }
}
