// validateSweep: compile, check the size limit, validate every configuration with the core.

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
}

export const DEFAULT_LIMITS: SweepLimits = { maxConfigs: 100_000, maxCostSeconds: DEFAULT_MAX_COST_SECONDS };

export type ValidateSweepResult =
  | { ok: true; compiled: CompiledSweep; cost: { maxSeconds: number; totalSeconds: number; perConfig: Float64Array } }
  | { ok: false; issues: SpecIssue[] };

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
  report(compiled: CompiledSweep): SpecIssue[] {
    const all = [...this.groups.values()];
    const show = all.length + (this.untracked > 0 ? 1 : 0) > MAX_REPORTED_ISSUES ? all.slice(0, MAX_REPORTED_ISSUES - 1) : all;
    const set = compiled.paths.map((p) => p.split('.'));
    const out: SpecIssue[] = show.map((g) => {
      const message = withSuggestion(g.message, g.path, () => compiled.configAt(g.first));
      const segs = tokens(g.path);
      const fromBase = g.count === compiled.total && !set.some((t) => isPrefix(t, segs) || isPrefix(segs, t));
      if (fromBase) return { path: `/base${g.path}`, message };
      return {
        path: g.path,
        index: g.first,
        message: g.count === 1 ? message : `${message} (in ${g.count} configurations, first index ${g.first})`,
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
 * configuration with the core's
 * validateConfig. Never throws for a bad specification: problems come back as
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
  let maxSeconds = 0;
  let totalSeconds = 0;
  // Kept so that whoever packs the configurations into jobs need not validate them again.
  const perConfig = new Float64Array(total);
  for (let i = 0; i < total; i++) {
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
      perConfig[i] = s;
      if (s > maxSeconds) maxSeconds = s;
      totalSeconds += s;
    } else {
      for (const is of r.issues) groups.add(is.path, is.message, i);
    }
  }
  if (groups.any) return { ok: false, issues: groups.report(compiled) };
  // An adaptive sweep validates its starting grid; the budget bounds what it may add, at the grid's mean cost.
  if (compiled.refine && total > 0) totalSeconds *= compiled.refine.budget / total;
  return { ok: true, compiled, cost: { maxSeconds, totalSeconds, perConfig } };
}
