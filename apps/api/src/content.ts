// Request bodies: JSON, or YAML for sweep specs. Syntax errors are 400 with the line and
// column; bytes that are not UTF-8 are 400 with their offset; a document that expands
// (YAML aliases) past the spec size limits is 413 with the numbers; any other content
// type is 415 (Fastify's text/plain parser is removed so a spec sent as text is refused
// rather than validated as a string).
import type { FastifyInstance } from 'fastify';
import { DEFAULT_SIZE_LIMITS, parseSpecText, SpecError, SpecTooLargeError, type SweepLimits } from '@curation/sweep-spec';
import { ApiError } from './errors.ts';

export const YAML_TYPES = ['application/yaml', 'text/yaml', 'application/x-yaml'];

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Offset of the first byte that does not start or continue a well-formed UTF-8 sequence. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c < 0x80) { i++; continue; }
    if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c >= 0xe0 && c <= 0xef) { n = 2; if (c === 0xe0) lo = 0xa0; if (c === 0xed) hi = 0x9f; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 3; if (c === 0xf0) lo = 0x90; if (c === 0xf4) hi = 0x8f; }
    else return i;
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      if (d === undefined || d < (k === 1 ? lo : 0x80) || d > (k === 1 ? hi : 0xbf)) return i;
    }
    i += n + 1;
  }
  return -1;
}

function decode(body: Buffer): string {
  try {
    return utf8.decode(body);
  } catch {
    const at = firstInvalidUtf8(body);
    const message = `the body is not UTF-8 text: invalid byte 0x${body[at]?.toString(16).padStart(2, '0') ?? '??'} at byte offset ${at}`;
    throw new ApiError(400, message, [{ path: '', message }]);
  }
}

function parse(text: string, format: 'json' | 'yaml', limits: SweepLimits): unknown {
  try {
    return parseSpecText(text, format, limits.specSize ?? DEFAULT_SIZE_LIMITS);
  } catch (err) {
    if (err instanceof SpecTooLargeError) {
      const o = err.oversize;
      throw new ApiError(413, `the ${format.toUpperCase()} body is too large once parsed: ${o.message}`, [{ path: o.path, message: o.message }], {
        extra: { limit: o.limit, max: o.max, found: o.found },
      });
    }
    if (err instanceof SpecError) {
      throw new ApiError(400, `the body is not valid ${format.toUpperCase()}: ${err.message}`, [{ path: '', message: err.message }]);
    }
    throw err;
  }
}

export function registerContentParsers(app: FastifyInstance, limits: SweepLimits): void {
  app.removeContentTypeParser(['text/plain', 'application/json']);
  // An empty JSON body (a bodiless POST sent with a JSON content type) is no body at all.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => {
    try {
      const text = decode(body as Buffer);
      if (text.trim() === '') return done(null, undefined);
      done(null, parse(text, 'json', limits));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.addContentTypeParser(YAML_TYPES, { parseAs: 'buffer' }, (_req, body, done) => {
    try {
      done(null, parse(decode(body as Buffer), 'yaml', limits));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}
