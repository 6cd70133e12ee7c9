/** Invalid input: bad configuration, unreadable file, bad arguments. */
export const EXIT_USAGE = 2;
/** Unexpected failure while running. */
export const EXIT_FAILURE = 1;
