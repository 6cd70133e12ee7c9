// What a result row stores besides its trajectory, in the form the store sends: the
// summary as JSON text and its filterable columns. Free of I/O imports, so a worker's
// compute thread can prepare its results itself (`@curation/db/result-encoding`)
// and the main thread, which every job's statements go through, only passes them on.
import type { Summary } from '@curation/core';

type Loose = Record<string, unknown> | null | undefined;
const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);
const bool = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : null);

/** The filterable summary fields, as stored in their own columns of `results`. */
export interface SummaryColumns {
  converged: boolean;
  convergedAt: number | null;
  collapsed: boolean;
  nashGap: number | null;
  basinShare0: number | null;
  survivingBasins: number;
  inInterval: boolean | null;
  finalEntropy: number;
  outsideDecayRate: number | null;
  auditApplies: boolean | null;
  inIntervalB5: boolean | null;
  inIntervalCorrected: boolean | null;
  outsideDomination: number | null;
  finalOutside: number | null;
}

/**
 * The filterable summary fields. Contract 2 fields are read defensively (null when the
 * summary has none, as in contract 1 summaries).
 */
export function summaryColumns(s: Summary): SummaryColumns {
  const x = s as unknown as Record<string, unknown>;
  const audit = x.audit as Loose;
  const final = x.final as Loose;
  return {
    converged: s.converged,
    convergedAt: s.convergedAt,
    collapsed: s.collapsed,
    nashGap: s.nashGap,
    basinShare0: s.basinShare[0] ?? null,
    survivingBasins: s.survivingBasins,
    inInterval: audit ? bool(audit.inInterval) : null,
    finalEntropy: s.final.entropy,
    outsideDecayRate: num(x.outsideDecayRate),
    auditApplies: audit ? bool(audit.applies) : null,
    inIntervalB5: audit ? bool(audit.inIntervalB5) : null,
    inIntervalCorrected: audit ? bool(audit.inIntervalCorrected) : null,
    outsideDomination: audit ? num(audit.outsideDomination) : null,
    finalOutside: final ? num(final.outside) : null,
  };
}

// The core never gives NaN or Infinity (its contract); JSON would quietly turn them into
// null, so check before serialising and fail loudly instead.
export function assertFinite(value: unknown, where: string): void {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`non-finite number in result JSON (${where}): ${value}`);
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) assertFinite(value[i], where);
  } else if (value !== null && typeof value === 'object') {
    for (const k in value) assertFinite((value as Record<string, unknown>)[k], where);
  }
}

/** JSON text of a value that must hold finite numbers only (throws otherwise). */
export function finiteJson(value: unknown, where: string): string {
  assertFinite(value, where);
  return JSON.stringify(value);
}

/** A summary as the store takes it: its JSON text and its columns. */
export function encodeSummary(s: Summary): { summaryJson: string; columns: SummaryColumns } {
  return { summaryJson: finiteJson(s, 'summary'), columns: summaryColumns(s) };
}
