// Waiting in tests and benches for a condition instead of for a fixed time: poll until
// the probe gives a value, and fail with what was awaited when it never does.

/**
 * Calls `probe` every `everyMs` until it returns something other than undefined or
 * false, and resolves to that; rejects with "timed out waiting for <what>" after
 * `timeoutMs`. A probe that throws ends the wait with its error.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  everyMs = 50,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (${timeoutMs} ms)`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
