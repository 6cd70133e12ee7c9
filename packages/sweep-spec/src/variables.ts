// The axis variables of a specification, read without compiling it.

import { isPlainObject } from './values.ts';

/**
 * The axis variables of a (stored, already validated) specification, in the order
 * of CompiledSweep.variables: axis order, zip members in order, the params of a
 * random axis sorted by name. Lenient: anything that is not an axis is skipped, a
 * name is listed once.
 */
export function specVariables(spec: unknown): string[] {
  const out = new Set<string>();
  const axes = isPlainObject(spec) ? spec.axes : undefined;
  if (!Array.isArray(axes)) return [];
  const visit = (axis: unknown) => {
    if (!isPlainObject(axis)) return;
    if (typeof axis.param === 'string') out.add(axis.param);
    else if (Array.isArray(axis.zip)) axis.zip.forEach(visit);
    else if (isPlainObject(axis.random) && isPlainObject(axis.random.params)) {
      // Sorted as compileSweep sorts them, so that key order (after a round trip through jsonb) does not matter.
      for (const name of Object.keys(axis.random.params).sort()) out.add(name);
    }
  };
  axes.forEach(visit);
  return [...out];
}
