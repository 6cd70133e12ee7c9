// Checks every route shares, at the edge: text that cannot be stored, and ids in the
// one case they are stored in. Registered once, as a preValidation hook on the root
// instance, so no route (and no route added later) can forget them.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isUuid } from '@curation/db';
import { errorBody, issuesMessage, type Issue } from './errors.ts';
import { MAX_ISSUES, token } from './validation.ts';

// Postgres refuses NUL in text and jsonb, and jsonb an unpaired surrogate (JSON.stringify
// writes it as a \ud800 escape). Without this check such a string reaches a query and
// fails there as a 500; here it is a 400 at its path.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why a string is not text the service can store or compare, or null when it is. */
export function textProblem(s: string): string | null {
  if (s.includes('\u0000')) return 'contains a NUL character (U+0000), which text may not contain';
  if (LONE_SURROGATE.test(s)) return 'contains a lone UTF-16 surrogate (U+D800..U+DFFF without its pair), which is not Unicode text';
  return null;
}

interface Frame { value: unknown; parent: Frame | null; key: string }

const pointer = (f: Frame | null): string => {
  const keys: string[] = [];
  for (let x = f; x && x.parent; x = x.parent) keys.push(token(x.key));
  return keys.length ? `/${keys.reverse().join('/')}` : '';
};

/** Shows a name that is itself invalid text without the invalid code units. */
const printable = (s: string) => JSON.stringify(s.replace(/\u0000/g, '\\0').replace(/[\ud800-\udfff]/g, '\ufffd'));

/**
 * Every string (values and property names) in a parsed body, query or params object
 * that is not valid text, as issues under `prefix`. Iterative, so any depth the parser
 * accepted is walked without recursion; stops after MAX_ISSUES.
 */
export function textIssues(root: unknown, prefix: string): Issue[] {
  const issues: Issue[] = [];
  const stack: Frame[] = [{ value: root, parent: null, key: '' }];
  while (stack.length && issues.length < MAX_ISSUES) {
    const f = stack.pop()!;
    const v = f.value;
    if (typeof v === 'string') {
      const problem = textProblem(v);
      if (problem) issues.push({ path: prefix + pointer(f), message: problem });
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], parent: f, key: String(i) });
    } else if (v !== null && typeof v === 'object') {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i];
        const problem = textProblem(k);
        if (problem) issues.push({ path: prefix + pointer(f), message: `has a property name ${printable(k)} that ${problem}` });
        else stack.push({ value: (v as Record<string, unknown>)[k], parent: f, key: k });
      }
    }
  }
  return issues;
}

/**
 * The checks every route shares, before its schema is applied (a preValidation hook on
 * the root instance): no string anywhere in params, query or body may hold text that
 * cannot be stored (400 at its path), and a uuid in a path parameter is read in lower
 * case, the form every id is stored and compared in. The refusal is sent from here, not
 * thrown: plugins with their own error handler (bull-board) must answer it the same way.
 */
export async function checkRequestEdge(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | void> {
  const issues = [
    ...textIssues(request.params, '/params'),
    ...textIssues(request.query, '/querystring'),
    ...textIssues(request.body, ''),
  ].slice(0, MAX_ISSUES);
  if (issues.length) {
    return reply.code(400).send(errorBody(400, issuesMessage('invalid text in the request', issues), issues));
  }
  const params = request.params as Record<string, unknown> | undefined;
  if (params && typeof params === 'object') {
    for (const [k, v] of Object.entries(params)) {
      if (typeof v === 'string' && isUuid(v)) params[k] = v.toLowerCase();
    }
  }
}
