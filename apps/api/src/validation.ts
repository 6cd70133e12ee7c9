// AJV errors -> issues { path, message }. Paths are JSON pointers (RFC 6901): into the
// body for body errors (`/axes/0/values`), and prefixed with the request part for the
// others (`/querystring/limit`, `/params/id`, `/headers/idempotency-key`).
import type { Issue } from './errors.ts';

export interface ValidationErrorLike {
  instancePath?: string;
  schemaPath?: string;
  keyword?: string;
  params?: Record<string, unknown>;
  message?: string;
}

export const MAX_ISSUES = 50;

export const token = (k: string) => k.replace(/~/g, '~0').replace(/\//g, '~1');

function pathOf(e: ValidationErrorLike): string {
  const base = e.instancePath ?? '';
  const p = e.params ?? {};
  if (e.keyword === 'required' && typeof p.missingProperty === 'string') return `${base}/${token(p.missingProperty)}`;
  if (e.keyword === 'additionalProperties' && typeof p.additionalProperty === 'string') return `${base}/${token(p.additionalProperty)}`;
  return base;
}

function messageOf(e: ValidationErrorLike): string {
  const p = e.params ?? {};
  switch (e.keyword) {
    case 'required': return 'is required';
    case 'additionalProperties': return 'is not an allowed field';
    case 'enum': return `must be one of ${(p.allowedValues as unknown[] | undefined)?.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const': return `must be ${JSON.stringify(p.allowedValue)}`;
    default: return e.message ?? 'is invalid';
  }
}

const within = (path: string, parent: string) => path === parent || path.startsWith(parent + '/');

/**
 * An anyOf (every TypeBox union) that fails reports the errors of every branch, most of
 * them noise ("linspace is required" for a values axis). Keep only the branch that came
 * closest: fewest errors, then the deepest one. Innermost unions first, so nested unions
 * are already pruned when their parent counts.
 */
export function pruneUnions(errors: ValidationErrorLike[]): ValidationErrorLike[] {
  let out = [...errors];
  const unions = out
    .filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf')
    .sort((a, b) => (b.schemaPath?.length ?? 0) - (a.schemaPath?.length ?? 0));
  for (const u of unions) {
    if (!out.includes(u)) continue;
    const prefix = `${u.schemaPath}/`;
    const branches = new Map<string, ValidationErrorLike[]>();
    for (const e of out) {
      if (e === u || !e.schemaPath?.startsWith(prefix) || !within(e.instancePath ?? '', u.instancePath ?? '')) continue;
      const branch = e.schemaPath.slice(prefix.length).split('/')[0];
      branches.set(branch, [...(branches.get(branch) ?? []), e]);
    }
    if (!branches.size) continue;
    const depth = (es: ValidationErrorLike[]) => Math.max(...es.map((e) => pathOf(e).split('/').length));
    const best = [...branches.values()].sort((a, b) => a.length - b.length || depth(b) - depth(a))[0];
    const drop = new Set([u, ...[...branches.values()].filter((b) => b !== best).flat()]);
    out = out.filter((e) => !drop.has(e));
  }
  return out;
}

export function validationIssues(errors: ValidationErrorLike[], context: string): Issue[] {
  const prefix = context === 'body' ? '' : `/${context}`;
  const seen = new Set<string>();
  const issues: Issue[] = [];
  for (const e of pruneUnions(errors)) {
    const issue = { path: prefix + pathOf(e), message: messageOf(e) };
    const key = `${issue.path}\u0000${issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push(issue);
    if (issues.length >= MAX_ISSUES) break;
  }
  return issues;
}

