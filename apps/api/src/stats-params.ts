// What the results routes (stats, export, plots) share: the query parameters they read
// the same way (lists, contract). The error replies and the sweep id are schemas.ts's,
// and a StatsQueryError becomes a 400 in the app's error handler (errors.ts).
import { Type } from '@sinclair/typebox';
import { ApiError } from './errors.ts';

/** A query parameter given once (comma-separated) or repeated. */
export const ListParam = (description: string) =>
  Type.Union([Type.String(), Type.Array(Type.String())], { description });

/** `a,b` or [`a,b`, `c`] -> [a, b, c] (trimmed, empties dropped). */
export function listOf(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
}

export const ContractParam = Type.Optional(Type.Integer({
  minimum: 1,
  description: 'aggregate the results of this model contract; default the newest contract among the runs (the reply says which, and counts the runs of other contracts it left out)',
}));

export const badRequest = (message: string) => new ApiError(400, message);
