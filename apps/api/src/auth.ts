// Access control (docs/service-design.md, "Access control"): every /v1 route needs
// `Authorization: Bearer <key>`; the key names a team, and the team's sweeps are all the
// request can see (admin keys see every sweep). Routes that stay open say so in their
// config (`authPublic: true`): /health and /ready.
//
// Browsers cannot add a header to a page load, so the operator pages (bull-board at
// /admin/queues, and /docs when DOCS_REQUIRE_AUTH=1) also accept HTTP Basic auth with the
// key as the password (any user name): the browser asks once and resends it itself.
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type pg from 'pg';
import { findKeyByPlaintext, touchLastUsed, type KeyRole, type Visibility } from '@curation/db';
import { ApiError, errorBody } from './errors.ts';

export interface RequestAuth {
  keyId: string;
  teamId: string;
  role: KeyRole;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on every authenticated route. */
    auth?: RequestAuth;
  }
  interface FastifyContextConfig {
    /** The route needs no key (health and readiness probes). */
    authPublic?: boolean;
  }
}

export const MALFORMED_MESSAGE = 'missing or malformed Authorization header: expected "Bearer <key>"';
export const INVALID_KEY_MESSAGE = 'invalid or revoked API key';
const BEARER_RE = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;
const BASIC_RE = /^Basic[ \t]+([A-Za-z0-9+/=]+)[ \t]*$/i;

export interface GuardOptions {
  /** Only admin keys (403 for a member key). */
  admin?: boolean;
  /** Also accept HTTP Basic auth (the key as password) and ask browsers for it on a 401. */
  basicRealm?: string;
  /** Counts requests with an unknown key per client address and refuses them past a limit (rate-limit.ts). */
  failures?: AuthFailureThrottle;
}

/** What authGuard needs from a throttle of failed authentications. */
export interface AuthFailureThrottle {
  /** The refusal for an address already over the limit, without counting again; undefined otherwise. */
  blocked(request: FastifyRequest): ApiError | undefined;
  /** Counts a failure; the refusal to send instead of the 401 when this one went over the limit. */
  failed(request: FastifyRequest): Promise<ApiError | undefined>;
}

/** The key in the Authorization header, or null when the header is missing or malformed. */
export function keyFromHeader(header: string | undefined, allowBasic: boolean): string | null {
  if (typeof header !== 'string') return null;
  const bearer = BEARER_RE.exec(header);
  if (bearer) return bearer[1];
  if (allowBasic) {
    const basic = BASIC_RE.exec(header);
    if (basic) {
      const text = Buffer.from(basic[1], 'base64').toString('utf8');
      const colon = text.indexOf(':');
      const password = colon >= 0 ? text.slice(colon + 1) : '';
      return password || null;
    }
  }
  return null;
}

function unauthorized(message: string, realm?: string): ApiError {
  const challenge = realm ? `Basic realm="${realm}", charset="UTF-8"` : 'Bearer';
  return new ApiError(401, message, undefined, { headers: { 'www-authenticate': challenge } });
}

/**
 * Answers a refusal from a hook directly, rather than throwing it: plugins such as
 * bull-board install their own error handler, and the refusal must look the same everywhere.
 */
function deny(reply: FastifyReply, err: ApiError): FastifyReply {
  if (err.headers) reply.headers(err.headers);
  return reply.code(err.statusCode).send(errorBody(err.statusCode, err.message, err.issues, err.extra));
}

/**
 * An onRequest hook that authenticates the request's key and sets `request.auth`.
 * Missing or malformed header, unknown or revoked key: 401. last_used_at is updated in
 * the background, at most once a minute per key.
 */
export function authGuard(pool: pg.Pool, o: GuardOptions = {}): onRequestAsyncHookHandler {
  return async function authenticate(request: FastifyRequest, reply: FastifyReply) {
    if (request.routeOptions.config?.authPublic) return;
    const key = keyFromHeader(request.headers.authorization, !!o.basicRealm);
    if (key === null) return deny(reply, unauthorized(MALFORMED_MESSAGE, o.basicRealm));
    // The key is looked up first (one unique-index query), so a valid key is served even
    // from an address over the failure limit: behind a proxy, or on a shared NAT, one
    // client guessing keys must not lock out the others. Only failures are counted, and
    // an address over the limit gets 429 instead of 401 without another count in Redis.
    const found = await findKeyByPlaintext(pool, key);
    if (!found) {
      const refusal = o.failures?.blocked(request) ?? (await o.failures?.failed(request));
      return deny(reply, refusal ?? unauthorized(INVALID_KEY_MESSAGE, o.basicRealm));
    }
    if (o.admin && found.role !== 'admin') return deny(reply, new ApiError(403, 'this endpoint needs an admin key'));
    request.auth = { keyId: found.keyId, teamId: found.teamId, role: found.role };
    touchLastUsed(pool, found.keyId).catch((err) => request.log.warn({ err, keyId: found.keyId }, 'could not record key use'));
  };
}

/** Whose sweeps this request may see. Fails closed: a route reached without auth is a 401. */
export function visibilityOf(request: FastifyRequest): Visibility {
  const auth = request.auth;
  if (!auth) throw unauthorized(MALFORMED_MESSAGE);
  return auth.role === 'admin' ? { all: true } : { teamId: auth.teamId };
}

/** The team that owns what this request creates. */
export function teamOf(request: FastifyRequest): string {
  const auth = request.auth;
  if (!auth) throw unauthorized(MALFORMED_MESSAGE);
  return auth.teamId;
}
