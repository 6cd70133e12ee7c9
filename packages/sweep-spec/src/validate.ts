// validateSweep: compile, check the size limit, validate every configuration with the core.

import { DEFAULT_MAX_COST_SECONDS, validateConfig } from '@curation/core';
import { SpecError, type SpecIssue } from './errors.ts';
import { compileSweep, type CompiledSweep } from './compile.ts';

export interface SweepLimits {
  /** Most configurations a sweep may expand to. */
  maxConfigs: number;
  /** Most estimated seconds one configuration may cost (passed to the core's validateConfig). */
  maxCostSeconds: number;
}

export const DEFAULT_LIMITS: SweepLimits = { maxConfigs: 100_000, maxCostSeconds: DEFAULT_MAX_COST_SECONDS };

export type ValidateSweepResult =
  | { ok: true; compiled: CompiledSweep; cost: { maxSeconds: number; totalSeconds: number; perConfig: Float64Array } }
  | { ok: false; issues: SpecIssue[] };

/** Most issues reported by validateSweep for configuration problems. */
export const MAX_REPORTED_ISSUES = 20;
const MAX_TRACKED_GROUPS = 10_000;

interface Group { path: string; message: string; first: number; count: number }

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

  report(): SpecIssue[] {
    const all = [...this.groups.values()];
    const show = all.length + (this.untracked > 0 ? 1 : 0) > MAX_REPORTED_ISSUES ? all.slice(0, MAX_REPORTED_ISSUES - 1) : all;
    const out: SpecIssue[] = show.map((g) => ({
      path: g.path,
      index: g.first,
      message: g.count === 1 ? g.message : `${g.message} (in ${g.count} configurations, first index ${g.first})`,
    }));
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
 * Compiles a sweep, refuses it when it expands to more than `limits.maxConfigs`
 * configurations, then validates every configuration with the core's
 * validateConfig. Never throws for a bad specification: problems come back as
 * issues (configuration problems carry the configuration's index; identical
 * ones are collapsed, at most 20 are reported).
 */
export function validateSweep(spec: unknown, limits: SweepLimits = DEFAULT_LIMITS): ValidateSweepResult {
  let compiled: CompiledSweep;
  try {
    compiled = compileSweep(spec);
  } catch (e) {
    if (e instanceof SpecError) return { ok: false, issues: e.issues };
    throw e;
  }
  const { total } = compiled;
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
    if (r.ok) {
      const s = r.cost.seconds;
      perConfig[i] = s;
      if (s > maxSeconds) maxSeconds = s;
      totalSeconds += s;
    } else {
      for (const is of r.issues) groups.add(is.path, is.message, i);
    }
  }
  if (groups.any) return { ok: false, issues: groups.report() };
  return { ok: true, compiled, cost: { maxSeconds, totalSeconds, perConfig } };
}
