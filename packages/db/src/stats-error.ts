// The error of a stats, export or plot request the caller got wrong.

/**
 * A request the caller got wrong (unknown variable or metric, malformed filter): a 400.
 * `param` names the request parameter (metrics, where, groupBy, x, ...), and the
 * message starts with it.
 */
export class StatsQueryError extends Error {
  readonly param: string | null;
  readonly reason: string;
  constructor(reason: string, param: string | null = null) {
    super(param ? `${param}: ${reason}` : reason);
    this.name = 'StatsQueryError';
    this.param = param;
    this.reason = reason;
  }
}
