// Exit codes of the `sweep` command (documented in packages/cli/README.md).

/** Everything went as asked; after `submit --follow`, the sweep succeeded. */
export const EXIT_OK = 0;
/** Unexpected failure while running; after `submit --follow`, the sweep failed or was cancelled. */
export const EXIT_FAILURE = 1;
/** Invalid input: bad configuration, unreadable file, bad arguments, a 400/413/415/422 from the API. */
export const EXIT_USAGE = 2;
/** The API answered 404: no such sweep or run. */
export const EXIT_NOT_FOUND = 3;
/** The API answered 409: the action does not apply (cancel a finished sweep, retry with nothing to retry). */
export const EXIT_CONFLICT = 4;
/** The API could not be reached (connection refused, unknown host, timeout). */
export const EXIT_UNREACHABLE = 5;
/** The API answered 401 or 403: missing or wrong API key. */
export const EXIT_UNAUTHORIZED = 6;
/** The API answered 429: too many requests. */
export const EXIT_RATE_LIMITED = 7;

/** Exit code for an HTTP error status from the API. */
export function exitCodeForStatus(status: number): number {
  if (status === 400 || status === 413 || status === 415 || status === 422) return EXIT_USAGE;
  if (status === 401 || status === 403) return EXIT_UNAUTHORIZED;
  if (status === 404) return EXIT_NOT_FOUND;
  if (status === 409) return EXIT_CONFLICT;
  if (status === 429) return EXIT_RATE_LIMITED;
  return EXIT_FAILURE;
}
