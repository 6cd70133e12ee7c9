// Small helpers on JSON-like values.

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number') return Number.isFinite(v) ? `the number ${v}` : `${v}`;
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'boolean') return `${v}`;
  if (typeof v === 'object') return 'an object';
  return typeof v;
}

export function show(v: unknown): string {
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  try {
    const s = JSON.stringify(v);
    if (s === undefined) return String(v);
    return s.length > 60 ? s.slice(0, 57) + '...' : s;
  } catch {
    return String(v);
  }
}

/** Deep copy of a JSON value (plain objects, arrays, primitives). */
export function cloneJson<T>(v: T): T {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    const n = v.length;
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = cloneJson(v[i]);
    return out as T;
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const x = cloneJson((v as Record<string, unknown>)[k]);
    if (k === '__proto__') Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
    else out[k] = x;
  }
  return out as T;
}

export function isSafeInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

export function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/**
 * Rounds a computed grid value to the nearest decimal of at most 12 significant
 * digits when it is within floating-point error of it (2e-16 relative), so that
 * linspace [0.1, 0.5, 5] gives exactly 0.1, 0.2, 0.3, 0.4, 0.5.
 */
export function tidy(v: number): number {
  if (v === 0 || !Number.isFinite(v)) return v;
  const s = Number(v.toPrecision(12));
  return Math.abs(s - v) <= Math.abs(v) * 4.5e-16 ? s : v;
}
