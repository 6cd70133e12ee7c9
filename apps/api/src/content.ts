// Request bodies: JSON, or YAML for sweep specs. Syntax errors are 400 with the line and
// column; any other content type is 415 (Fastify's text/plain parser is removed so a
// spec sent as text is refused rather than validated as a string).
import type { FastifyInstance } from 'fastify';
import { parseSpecText, SpecError } from '@curation/sweep-spec';
import { ApiError } from './errors.ts';

export const YAML_TYPES = ['application/yaml', 'text/yaml', 'application/x-yaml'];

function parse(text: string, format: 'json' | 'yaml'): unknown {
  try {
    return parseSpecText(text, format);
  } catch (err) {
    if (err instanceof SpecError) {
      throw new ApiError(400, `the body is not valid ${format.toUpperCase()}: ${err.message}`, [{ path: '', message: err.message }]);
    }
    throw err;
  }
}

export function registerContentParsers(app: FastifyInstance): void {
  app.removeContentTypeParser(['text/plain', 'application/json']);
  // An empty JSON body (a bodiless POST sent with a JSON content type) is no body at all.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, parse(text, 'json'));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.addContentTypeParser(YAML_TYPES, { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parse(body as string, 'yaml'));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}
