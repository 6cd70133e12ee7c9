// Database rows -> response bodies.
import { emptyCounts, FINISHED_SWEEP_STATUSES, type StatusCounts, type SweepRow, type RunListItem } from '@curation/db';
import type { RunView, SweepView } from './schemas.ts';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/**
 * Counts from the runs table. Configurations without a run row yet are queued, unless
 * the sweep was cancelled before they were enqueued (then they will never run).
 */
export function sweepCounts(s: SweepRow, byStatus: StatusCounts | undefined) {
  const c = { ...(byStatus ?? emptyCounts()) };
  const missing = Math.max(0, s.total - (c.queued + c.running + c.succeeded + c.failed + c.cancelled));
  if (s.status === 'cancelled') c.cancelled += missing;
  else c.queued += missing;
  return { total: s.total, ...c };
}

/** Remaining runs divided by the completion rate since the sweep started. */
export function etaSeconds(s: SweepRow, counts: ReturnType<typeof sweepCounts>, now = Date.now()): number | null {
  if (FINISHED_SWEEP_STATUSES.includes(s.status) || !s.startedAt) return null;
  const done = counts.succeeded + counts.failed + counts.cancelled;
  if (done === 0) return null;
  const elapsed = Math.max(0.001, (now - s.startedAt.getTime()) / 1000);
  return Math.ceil((counts.queued + counts.running) / (done / elapsed));
}

export function sweepView(s: SweepRow, byStatus: StatusCounts | undefined): SweepView {
  const counts = sweepCounts(s, byStatus);
  return {
    id: s.id,
    name: s.name,
    tags: s.tags,
    status: s.status,
    counts,
    enqueued: s.enqueued,
    coreVersion: s.coreVersion,
    createdAt: s.createdAt.toISOString(),
    startedAt: iso(s.startedAt),
    finishedAt: iso(s.finishedAt),
    etaSeconds: etaSeconds(s, counts),
    ...(s.refine ? { refine: s.refine } : {}),
  };
}

export function runView(r: RunListItem): RunView {
  return {
    id: r.id,
    index: r.index,
    params: (r.params ?? {}) as Record<string, unknown>,
    status: r.status,
    summary: (r.summary ?? null) as Record<string, unknown> | null,
    error: r.error,
    attempts: r.attempts,
    startedAt: iso(r.startedAt),
    finishedAt: iso(r.finishedAt),
  };
}
