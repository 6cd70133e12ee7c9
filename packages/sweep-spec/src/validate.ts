// validateSweep: compile, check the size limit, validate every configuration with the
// core, or for a large sweep a sample of them (the rest fail as runs, with the reason).

import { DEFAULT_MAX_COST_SECONDS, estimateMemoryBytes, validateConfig } from '@curation/core';
import { SpecError, type SpecIssue } from './errors.ts';
import { compileSweep, type CompiledSweep } from './compile.ts';
import { configFieldsAt } from './fields.ts';
import { didYouMean } from './suggest.ts';
import { DEFAULT_SIZE_LIMITS, measureSpec, type SpecSizeLimits } from './text.ts';

export interface SweepLimits {
  /** Most configurations a sweep may expand to. */
  maxConfigs: number;
  /** Most estimated seconds one configuration may cost (passed to the core's validateConfig). */
  maxCostSeconds: number;
  /** Bounds on the specification itself, aliases expanded (default DEFAULT_SIZE_LIMITS). */
  specSize?: SpecSizeLimits;
  /** Most memory one configuration may need (the core's estimateMemoryBytes): what a worker allows (WORKER_MAX_RUN_MEMORY_MB). */
  maxMemoryBytes?: number;
  /** Sweeps up to this many configurations are validated whole; larger ones by a sample (default FULL_VALIDATION_MAX). */
  fullValidationMax?: number;
}

/**
 * Larger sweeps are validated on a sample (sampleIndexes) and priced from it: validating
 * a configuration costs tens of microseconds, so a million of them would hold the
 * submission for most of a minute. Adaptive sweeps are always validated whole (their
 * starting grid is bounded by the budget).
 */
export const FULL_VALIDATION_MAX = 20_000;
/** Evenly spaced and pseudo-random configurations a sampled validation checks, beside the axes' corners. */
export const SAMPLE_SPREAD = 2048;
const MAX_CORNER_AXES = 10;

export const DEFAULT_LIMITS: SweepLimits = { maxConfigs: 1_000_000, maxCostSeconds: DEFAULT_MAX_COST_SECONDS };

export type ValidateSweepResult =
  | {
      ok: true;
      compiled: CompiledSweep;
      /**
       * Estimated compute: per configuration when every one was validated; for a sampled
       * sweep `sampled` configurations were, `maxSeconds` is their largest and
       * `totalSeconds` the mean of the spread sample times the total.
       */
      cost: { maxSeconds: number; totalSeconds: number; perConfig?: Float64Array; sampled?: number };
    }
  | { ok: false; issues: SpecIssue[] };

/**
 * The configurations a sampled validation checks, ascending: every corner of the axes
 * (each axis at its first or last value; with more than 10 axes, all first, all last and
 * each axis alone at its last), evenly spaced indexes, and pseudo-random ones from a
 * fixed seed, so the same spec always gives the same sample. `spread` says which of
 * them price the sweep (the corners would bias a mean).
 */
export function sampleIndexes(compiled: CompiledSweep, n = SAMPLE_SPREAD): { all: number[]; spread: number[] } {
  const { total } = compiled;
  const spread = new Set<number>();
  if (total <= 2 * n) for (let i = 0; i < total; i++) spread.add(i);
  else {
    for (let j = 0; j < n; j++) spread.add(Math.floor((j * (total - 1)) / (n - 1)));
    let x = (total % 2147483647) + 1;
    for (let j = 0; j < n; j++) {
      x = (x * 48271) % 2147483647; // Park-Miller: deterministic, no dependency
      spread.add(Math.floor((x / 2147483647) * total));
    }
  }
  const all = new Set(spread);
  const lengths = compiled.lengths ?? [];
  const strides = lengths.map((_, k) => lengths.slice(k + 1).reduce((t, l) => t * l, 1));
  const at = (digits: number[]) => digits.reduce((i, d, k) => i + d * strides[k], 0);
  const last = lengths.map((l) => l - 1);
  if (lengths.length && lengths.length <= MAX_CORNER_AXES) {
    for (let mask = 0; mask < 2 ** lengths.length; mask++) all.add(at(last.map((l, k) => ((mask >> k) & 1 ? l : 0))));
  } else if (lengths.length) {
    all.add(0);
    all.add(at(last));
    for (let k = 0; k < lengths.length; k++) all.add(at(last.map((l, j) => (j === k ? l : 0))));
  }
  const sort = (xs: Set<number>) => [...xs].filter((i) => i >= 0 && i < total).sort((a, b) => a - b);
  return { all: sort(all), spread: sort(spread) };
}

/** Most issues reported by validateSweep for configuration problems. */
export const MAX_REPORTED_ISSUES = 20;
const MAX_TRACKED_GROUPS = 10_000;

interface Group { path: string; message: string; first: number; count: number }

/** JSON pointer -> its reference tokens ("" -> []). */
function tokens(path: string): string[] {
  return path === '' ? [] : path.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

const isPrefix = (a: readonly string[], b: readonly string[]) => a.length <= b.length && a.every((s, i) => s === b[i]);

/** Adds "did you mean" to the core's `unknown field "x"`, from the fields the schema allows there. */
function withSuggestion(message: string, path: string, config: () => unknown): string {
  const m = /^unknown field "(.*)"$/.exec(message);
  if (!m) return message;
  return message + didYouMean(m[1], configFieldsAt(config(), tokens(path).slice(0, -1)));
}

/** Groups identical (path, message) pairs across configurations. */
class IssueGroups {
  private groups = new Map<string, Group>();
  private untracked = 0;
  any = false;

  add(path: string, message: string, index: number): void {
    this.any = true;
    const key = path + '\u0000' + message;
    const g = this.groups.get(key);
    if (g) g.count++;
    else if (this.groups.size < MAX_TRACKED_GROUPS) this.groups.set(key, { path, message, first: index, count: 1 });
    else this.untracked++;
  }

  /**
   * A problem found in every configuration at a path no axis or derive sets comes
   * from base: it is reported once, at its place in base (`/base/iteration`), without
   * a configuration index. Every other problem keeps the configuration's path and the
   * index of the first configuration that has it.
   */
  report(compiled: CompiledSweep, checked = compiled.total): SpecIssue[] {
    const all = [...this.groups.values()];
    const show = all.length + (this.untracked > 0 ? 1 : 0) > MAX_REPORTED_ISSUES ? all.slice(0, MAX_REPORTED_ISSUES - 1) : all;
    const set = compiled.paths.map((p) => p.split('.'));
    const out: SpecIssue[] = show.map((g) => {
      const message = withSuggestion(g.message, g.path, () => compiled.configAt(g.first));
      const segs = tokens(g.path);
      const fromBase = g.count === checked && !set.some((t) => isPrefix(t, segs) || isPrefix(segs, t));
      if (fromBase) return { path: `/base${g.path}`, message };
      return {
        path: g.path,
        index: g.first,
        message: g.count === 1 ? message
          : `${message} (in ${g.count}${checked < compiled.total ? ` of the ${checked} configurations checked` : ' configurations'}, first index ${g.first})`,
      };
    });
    if (show.length < all.length || this.untracked > 0) {
      const hidden = all.length - show.length;
      out.push({
        path: '',
        message: `${hidden}${this.untracked > 0 ? '+' : ''} more distinct problem${hidden === 1 && !this.untracked ? '' : 's'} not shown`,
      });
    }
    return out;
  }
}

/**
 * Refuses a specification larger than `limits.specSize`, compiles it, refuses it when
 * it expands to more than `limits.maxConfigs` configurations, then validates every
 * configuration with the core's validateConfig; above `limits.fullValidationMax`, a
 * sample of them (sampleIndexes), and the sweep is priced from the sample: a problem
 * the sample does not meet fails that configuration's run with the reason. Never throws for a bad specification: problems come back as
 * issues (configuration problems carry the configuration's index, or point into
 * base when base alone causes them; identical ones are collapsed, at most 20 are
 * reported; an unknown field comes with the closest allowed name).
 */
export function validateSweep(spec: unknown, limits: SweepLimits = DEFAULT_LIMITS): ValidateSweepResult {
  const over = measureSpec(spec, limits.specSize ?? DEFAULT_SIZE_LIMITS);
  if (over) return { ok: false, issues: [{ path: over.path, message: over.message }] };
  let compiled: CompiledSweep;
  try {
    compiled = compileSweep(spec);
  } catch (e) {
    if (e instanceof SpecError) return { ok: false, issues: e.issues };
    throw e;
  }
  const { total } = compiled;
  if (compiled.refine && !(compiled.refine.budget <= limits.maxConfigs)) {
    return {
      ok: false,
      issues: [{ path: '/refine/budget', message: `the budget of ${compiled.refine.budget} runs is more than the limit of ${limits.maxConfigs} configurations per sweep` }],
    };
  }
  if (!(total <= limits.maxConfigs)) {
    return {
      ok: false,
      issues: [{ path: '/axes', message: `the sweep expands to ${total} configurations, more than the limit of ${limits.maxConfigs}` }],
    };
  }
  const opts = { maxCostSeconds: limits.maxCostSeconds };
  const groups = new IssueGroups();
  const sampled = !compiled.refine && total > (limits.fullValidationMax ?? FULL_VALIDATION_MAX);
  const sample = sampled ? sampleIndexes(compiled) : null;
  const indexes = sample ? sample.all : null;
  const count = indexes ? indexes.length : total;
  let maxSeconds = 0;
  let totalSeconds = 0;
  // Kept so that whoever packs the configurations into jobs need not validate them again.
  const perConfig = sampled ? null : new Float64Array(total);
  const costs = new Map<number, number>();
  for (let k = 0; k < count; k++) {
    const i = indexes ? indexes[k] : k;
    let config: unknown;
    try {
      config = compiled.configAt(i);
    } catch (e) {
      if (!(e instanceof SpecError)) throw e;
      for (const is of e.issues) groups.add(is.path, is.message, i);
      continue;
    }
    let r: ReturnType<typeof validateConfig>;
    try {
      r = validateConfig(config, opts);
    } catch (e) {
      groups.add('', `the configuration could not be validated: ${e instanceof Error ? e.message : String(e)}`, i);
      continue;
    }
    if (r.ok && limits.maxMemoryBytes !== undefined) {
      const bytes = estimateMemoryBytes(r.config);
      if (bytes > limits.maxMemoryBytes) {
        const mb = (b: number) => Math.ceil(b / 2 ** 20);
        groups.add('', `too large for a worker: needs an estimated ${mb(bytes)} MB of memory (n = ${r.config.n} atoms, m = ${r.config.m} rewards), ` +
          `more than the ${mb(limits.maxMemoryBytes)} MB a worker allows one run (WORKER_MAX_RUN_MEMORY_MB)`, i);
        continue;
      }
    }
    if (r.ok) {
      const s = r.cost.seconds;
      if (perConfig) perConfig[i] = s;
      else costs.set(i, s);
      if (s > maxSeconds) maxSeconds = s;
      totalSeconds += s;
    } else {
      for (const is of r.issues) groups.add(is.path, is.message, i);
    }
  }
  if (groups.any) return { ok: false, issues: groups.report(compiled, count) };
  if (sample) {
    let sum = 0;
    for (const i of sample.spread) sum += costs.get(i) ?? 0;
    totalSeconds = (sum / sample.spread.length) * total;
    return { ok: true, compiled, cost: { maxSeconds, totalSeconds, sampled: count } };
  }
  // An adaptive sweep validates its starting grid; the budget bounds what it may add, at the grid's mean cost.
  if (compiled.refine && total > 0) totalSeconds *= compiled.refine.budget / total;
  return { ok: true, compiled, cost: { maxSeconds, totalSeconds, perConfig: perConfig! } };
}
