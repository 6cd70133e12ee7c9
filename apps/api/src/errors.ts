// One error body everywhere: { statusCode, error, message, issues? }. Anything we did not
// anticipate becomes a 500 that names the request id (for the logs) and nothing else.
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { StatsQueryError, isDatabaseUnavailable } from '@curation/db';
import { isRedisUnavailable } from '@curation/queue';
import { validationIssues, type ValidationErrorLike } from './validation.ts';

export interface Issue { path: string; message: string; index?: number }

export interface ErrorBody { statusCode: number; error: string; message: string; issues?: Issue[]; [field: string]: unknown }

export class ApiError extends Error {
  readonly statusCode: number;
  readonly issues?: Issue[];
  /** Extra fields of the body (e.g. the numbers of a refused budget or rate limit). */
  readonly extra?: Record<string, unknown>;
  /** Extra response headers (e.g. WWW-Authenticate). */
  readonly headers?: Record<string, string>;
  constructor(statusCode: number, message: string, issues?: Issue[], o: { extra?: Record<string, unknown>; headers?: Record<string, string> } = {}) {
    super(message);
    this.name = 'ApiError';
    this.statusCode = statusCode;
    this.issues = issues;
    this.extra = o.extra;
    this.headers = o.headers;
  }
}

export const notFound = (what: string, id: string) => new ApiError(404, `${what} ${JSON.stringify(id)} not found`);

export function errorBody(statusCode: number, message: string, issues?: Issue[], extra?: Record<string, unknown>): ErrorBody {
  const body: ErrorBody = { ...extra, statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
  if (issues?.length) body.issues = issues;
  return body;
}

/** Summarises issues in one line: the first with its path, and how many more. */
export function issuesMessage(lead: string, issues: Issue[]): string {
  if (!issues.length) return lead;
  const first = issues[0];
  const at = first.index !== undefined ? `configuration ${first.index}, ` : '';
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return `${lead}: ${at}${first.path || '/'}: ${first.message}${more}`;
}

// Connection failures of Postgres or Redis: the client may retry, so 503 rather than 500.
const isUnavailable = (err: unknown) => isDatabaseUnavailable(err) || isRedisUnavailable(err);

/**
 * The packages' errors that mean the caller asked for something wrong, as the 4xx they
 * are; routes throw them as they come (one mapping here, not a catch in every route).
 */
function fromDomainError(err: unknown): ApiError | null {
  if (err instanceof StatsQueryError) {
    // The caller's query: a 400 naming the parameter.
    return new ApiError(400, err.message, err.param ? [{ path: `/querystring/${err.param}`, message: err.reason }] : undefined);
  }
  return null;
}

export function errorHandler(err: FastifyError | ApiError | Error, request: FastifyRequest, reply: FastifyReply): void {
  const fe = err as FastifyError & { validation?: ValidationErrorLike[]; validationContext?: string };
  if (fe.validation) {
    const issues = validationIssues(fe.validation, fe.validationContext ?? 'body');
    reply.code(400).send(errorBody(400, issuesMessage('invalid request', issues), issues));
    return;
  }
  const known = err instanceof ApiError ? err : fromDomainError(err);
  if (known) {
    if (known.headers) reply.headers(known.headers);
    reply.code(known.statusCode).send(errorBody(known.statusCode, known.message, known.issues, known.extra));
    return;
  }
  const status = fe.statusCode;
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    const limit = request.routeOptions.bodyLimit;
    reply.code(413).send(errorBody(413, `the request body is larger than the limit of ${limit} bytes (BODY_LIMIT_BYTES)`, undefined, { limitBytes: limit }));
    return;
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Fastify's own refusals (415, bad JSON, bad Content-Length...): their messages are
    // meant for clients. A 400 says where, like every other 400: the whole body ('').
    const issues = status === 400 ? [{ path: '', message: fe.message }] : undefined;
    reply.code(status).send(errorBody(status, fe.message, issues));
    return;
  }
  if (isUnavailable(err)) {
    request.log.warn({ err }, 'backing service unavailable');
    reply.code(503).send(errorBody(503, `a backing service (Postgres or Redis) is unavailable; retry later (request id ${request.id})`));
    return;
  }
  request.log.error({ err, reqId: request.id }, 'request failed');
  reply.code(500).send(errorBody(500, `internal error (request id ${request.id})`));
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  reply.code(404).send(errorBody(404, `no route ${request.method} ${request.url.split('?')[0]}`));
}

/**
 * Refusals Fastify makes before routing (a path whose percent escapes are not UTF-8, an
 * over-long parameter): the same body as every other error, and a 400 says where.
 */
export function frameworkErrorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
  const message = err.code === 'FST_ERR_BAD_URL'
    ? 'the URL path is not valid: its percent escapes are not UTF-8 text'
    : err.message;
  const issues = status === 400 ? [{ path: '/params', message }] : undefined;
  reply.code(status).send(errorBody(status, message, issues));
}
