/**
 * One problem with a sweep specification.
 *
 * `path` is a JSON pointer (RFC 6901, "" = the root) into the specification, e.g.
 * `/axes/2/zip/1/values`, or, for a problem found in one expanded configuration,
 * into that configuration (then `index` is the configuration's index).
 */
export interface SpecIssue {
  path: string;
  message: string;
  index?: number;
}

/** Thrown by parseSpecText, compileSweep and CompiledSweep.configAt. */
export class SpecError extends Error {
  readonly issues: SpecIssue[];

  constructor(issues: SpecIssue[], message?: string) {
    super(message ?? summarize(issues));
    this.name = 'SpecError';
    this.issues = issues;
  }
}

function summarize(issues: SpecIssue[]): string {
  if (issues.length === 0) return 'invalid sweep specification';
  const first = issues[0];
  const where = first.path === '' ? '' : `${first.path}: `;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
  return `invalid sweep specification: ${where}${first.message}${more}`;
}

/** Escapes one JSON pointer reference token. */
export function pointerToken(key: string | number): string {
  return String(key).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Builds a JSON pointer from tokens. */
export function pointer(...keys: (string | number)[]): string {
  return keys.map((k) => '/' + pointerToken(k)).join('');
}
