// Which contract the core implements and which build of it produced an output.

/** The model contract implemented (the major number of CORE_VERSION). */
export const CONTRACT = 2 as const;

/**
 * Version of the numerical core. The major number is the contract; the rest is
 * bumped whenever outputs for a given configuration change, so stored results
 * of another version are never reused.
 */
export const CORE_VERSION = '2.0.0';
