// Page cursors. Opaque to clients; a cursor we cannot read is a 400 on its parameter.
import { ApiError } from './errors.ts';
import { isUuid, type SweepCursor } from '@curation/db';

const bad = (what: string) => new ApiError(400, `invalid cursor: ${what}`, [{ path: '/querystring/cursor', message: `is not a cursor this API issued (${what})` }]);

export function encodeSweepCursor(c: SweepCursor): string {
  return Buffer.from(JSON.stringify([c.createdAt.toISOString(), c.id])).toString('base64url');
}

export function decodeSweepCursor(s: string): SweepCursor {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  } catch {
    throw bad('not base64url JSON');
  }
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'string' || typeof v[1] !== 'string') throw bad('wrong shape');
  const createdAt = new Date(v[0]);
  if (Number.isNaN(createdAt.getTime()) || !isUuid(v[1])) throw bad('wrong content');
  return { createdAt, id: v[1] };
}

export const encodeRunCursor = (index: number) => String(index);

export function decodeRunCursor(s: string): number {
  if (!/^\d{1,10}$/.test(s) || Number(s) > 2 ** 31 - 1) throw bad('expected the index of the last run seen');
  return Number(s);
}

/** Sweep ids: the one uuid check of packages/db, here next to the other id checks of the routes. */
export { isUuid };
/** Run ids are bigserial. */
export const isRunId = (s: string) => /^[1-9]\d{0,17}$/.test(s);
