// Configuration problems: the error class and the one-line-per-problem format
// shared by the CLI, the API and the worker.
import type { ConfigIssue } from './types.ts';

/** Thrown by simulate() for an invalid (or too expensive) configuration. */
export class ConfigError extends Error {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    super(`invalid configuration:\n${formatIssues(issues)}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** Thrown by simulate() when options.shouldStop() returned true at a generation boundary. */
export class SimulationCancelled extends Error {
  readonly generation: number;
  constructor(generation: number) {
    super(`simulation cancelled at generation ${generation}`);
    this.name = 'SimulationCancelled';
    this.generation = generation;
  }
}

/** One line per issue, `<path>: <message>`, the root shown as `/`. */
export function formatIssues(issues: ConfigIssue[]): string {
  return issues.map((i) => `${i.path === '' ? '/' : i.path}: ${i.message}`).join('\n');
}

/** RFC 6901 escaping of one reference token. */
export function pointerToken(key: string | number): string {
  return String(key).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Short rendering of an offending value for messages. */
export function show(value: unknown): string {
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  const s = JSON.stringify(value);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

export function typeName(value: unknown): string {
  if (value === null) return 'null';
  // The text itself: YAML reads `[0.3 0.5]` as the one string "0.3 0.5", and seeing it says why.
  if (typeof value === 'string') return `string ${show(value)}`;
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
