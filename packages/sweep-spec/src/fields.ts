// Which fields a RunConfig allows where: read from the core's schema, so that an
// unknown field can be answered with the closest allowed one.

import { RunConfigSchema } from '@curation/core';
import { isPlainObject } from './values.ts';

interface Node {
  type?: string;
  anyOf?: Node[];
  properties?: Record<string, Node>;
  items?: Node;
  const?: unknown;
}

/** The object members of a node (unions flattened), narrowed by `kind` when the value names one. */
function objectsOf(nodes: Node[], value: unknown): Node[] {
  const flat: Node[] = [];
  const visit = (n: Node) => (n.anyOf ? n.anyOf.forEach(visit) : flat.push(n));
  nodes.forEach(visit);
  const objects = flat.filter((n) => n.type === 'object' || n.type === 'array');
  const kind = isPlainObject(value) ? value.kind : undefined;
  const byKind = objects.filter((n) => n.properties?.kind?.const !== undefined && n.properties.kind.const === kind);
  return byKind.length > 0 ? byKind : objects;
}

/**
 * The field names a configuration may have at the object `segs` points to (JSON
 * pointer tokens, e.g. ["rewards", "0"]); a union is narrowed by the value's `kind`.
 * Empty when the path leads nowhere the schema knows.
 */
export function configFieldsAt(config: unknown, segs: readonly string[]): string[] {
  let nodes: Node[] = [RunConfigSchema as unknown as Node];
  let value = config;
  for (const s of segs) {
    const next: Node[] = [];
    for (const n of objectsOf(nodes, value)) {
      if (n.type === 'object' && n.properties?.[s]) next.push(n.properties[s]);
      else if (n.type === 'array' && n.items && /^(0|[1-9][0-9]*)$/.test(s)) next.push(n.items);
    }
    nodes = next;
    value = isPlainObject(value) || Array.isArray(value) ? (value as Record<string, unknown>)[s] : undefined;
  }
  const names = new Set<string>();
  for (const n of objectsOf(nodes, value)) for (const k of Object.keys(n.properties ?? {})) names.add(k);
  return [...names];
}
