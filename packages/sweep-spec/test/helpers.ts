// Shared fixtures for the sweep-spec tests.

/** A valid RunConfig: two quadratic rewards on a 1-d grid. */
export function baseConfig(): Record<string, unknown> {
  return {
    support: { kind: 'grid', min: -5, max: 5, n: 41 },
    rewards: [
      { kind: 'quadratic', center: -1 },
      { kind: 'quadratic', center: 1 },
    ],
    q: 0.5,
    iterations: 10,
  };
}

export function spec(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'test', base: baseConfig(), ...extra };
}

type Axis = { vars: string[]; points: unknown[][] };

/**
 * Naive expansion written independently of the package: axis points listed
 * explicitly, combined by nested loops (last axis fastest).
 */
export function naiveExpand(axes: Axis[]): Record<string, unknown>[] {
  let rows: Record<string, unknown>[] = [{}];
  for (const axis of axes) {
    const next: Record<string, unknown>[] = [];
    for (const row of rows) {
      for (const point of axis.points) {
        const r = { ...row };
        axis.vars.forEach((v, k) => (r[v] = point[k]));
        next.push(r);
      }
    }
    rows = next;
  }
  return rows;
}

/** Sets a dotted path on a deep copy (test-side reimplementation). */
export function withPath(obj: unknown, path: string, value: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(obj));
  const segs = path.split('.');
  let cur = copy;
  for (const s of segs.slice(0, -1)) cur = cur[s];
  cur[segs[segs.length - 1]] = value;
  return copy;
}
