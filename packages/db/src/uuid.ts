// The one spelling of a uuid that ids of sweeps, runs, teams and keys are checked against.

/** A uuid in its canonical 8-4-4-4-12 hex form, either case. */
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * True for a uuid. Ids that are not one are answered as unknown without asking
 * Postgres, whose uuid cast would fail the whole statement.
 */
export const isUuid = (s: string): boolean => UUID_RE.test(s);
