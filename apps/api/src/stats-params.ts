// What the results routes (stats, export, plots) share: their options, the query
// parameters they read the same way (lists, contract, sweep id), the error replies
// they declare, and the mapping of a StatsQueryError to a 400.
import type pg from 'pg';
import { Type, type TSchema } from '@sinclair/typebox';
import { StatsQueryError, type PrismaClient } from '@curation/db';
import { ApiError } from './errors.ts';

export interface ResultsRouteOptions {
  pool: pg.Pool;
  prisma?: PrismaClient;
}

export const ErrorReply = Type.Object(
  { statusCode: Type.Integer(), error: Type.String(), message: Type.String() },
  { additionalProperties: true, description: 'Every error response' },
);
export const errorReplies = (...codes: number[]): Record<number, TSchema> =>
  Object.fromEntries(codes.map((c) => [c, ErrorReply]));

export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/** A query parameter given once (comma-separated) or repeated. */
export const ListParam = (description: string) =>
  Type.Union([Type.String(), Type.Array(Type.String())], { description });

/** `a,b` or [`a,b`, `c`] -> [a, b, c] (trimmed, empties dropped). */
export function listOf(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
}

export const SweepIdParam = Type.Object({ id: Type.String({ description: 'sweep id (uuid); anything else is a 404' }) });

/** StatsQueryError (the caller's mistake) -> 400 naming the parameter; anything else unchanged. */
export function asApiError(err: unknown): unknown {
  if (!(err instanceof StatsQueryError)) return err;
  return new ApiError(400, err.message, err.param ? [{ path: `/querystring/${err.param}`, message: err.reason }] : undefined);
}

export const ContractParam = Type.Optional(Type.Integer({
  minimum: 1,
  description: 'aggregate the results of this model contract; default the newest contract among the runs (the reply says which, and counts the runs of other contracts it left out)',
}));

export const badRequest = (message: string) => new ApiError(400, message);
