// Content hash of a configuration: sha256 of canonical JSON (object keys sorted,
// arrays in order), so two sweeps that spell the same configuration differently
// (key order, defaults written out or not) share one stored result.
import { createHash } from 'node:crypto';

/**
 * JSON text with every object's keys sorted and undefined members left out (undefined
 * array items become null, as JSON.stringify does). Runs once per configuration a
 * worker prepares, so it builds one string instead of arrays of parts.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`cannot hash non-finite number ${value}`);
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) {
    let s = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) s += ',';
      const v: unknown = value[i];
      s += canonicalJson(v === undefined ? null : v);
    }
    return `${s}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  let s = '{';
  for (const k of keys) {
    const v = obj[k];
    if (v === undefined) continue;
    if (s.length > 1) s += ',';
    s += `${JSON.stringify(k)}:${canonicalJson(v)}`;
  }
  return `${s}}`;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function configHash(hashable: unknown): string {
  return sha256Hex(canonicalJson(hashable));
}
