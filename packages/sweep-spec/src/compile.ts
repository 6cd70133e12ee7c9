// Structural validation and compilation of a sweep specification into a
// random-access expansion (mixed-radix decomposition of the index).

import { SpecError, pointer, pointerToken, type SpecIssue } from './errors.ts';
import { CONFIG_FIELDS, PARAM_PATTERN } from './schema.ts';
import { CONSTANT_NAMES, ExprError, type ExprValue, allFinite, compileExpression, type Evaluator, type ExprScope } from './expr.ts';
import { pointRng, streamKey } from './prng.ts';
import { didYouMean } from './suggest.ts';
import { checkRefineSize, parseRefine, refineAxisDefs, withRefine, type RefinePlan } from './refine.ts';
import { cloneJson, isFiniteNumber, isPlainObject, isSafeInt, show, tidy, typeName } from './values.ts';

export interface CompiledSweep {
  /** Number of configurations: the product of the axis lengths (1 with no axes). */
  total: number;
  /** Axis variable names, in axis order (inside zip in member order, inside random sorted by name). */
  variables: string[];
  /** The configuration paths the axes, then derive, set (dotted, as written in the spec). */
  paths: string[];
  /** The derive keys, in spec order: the names paramsAt lists after the axis variables. */
  derived: string[];
  /** Adaptive sweeps only: `total` is the starting grid, and indexes up to the lattice's capacity are valid. */
  refine?: RefinePlan;
  /**
   * The parameters of configuration i: the axis variables, then the derived values
   * (name -> value), so that a run records every value the sweep chose for it.
   */
  paramsAt(i: number): Record<string, unknown>;
  /** Configuration i: a deep copy of base with the axis config paths, then the derive paths, set. */
  configAt(i: number): unknown;
  /** Axis lengths in axis order (the last axis varies fastest). Not meaningful for adaptive sweeps (`refine`), whose indexes are lattice points. */
  lengths?: number[];
  /**
   * paramsAt's JSON as a few lists of pieces, so that a database can build the params of
   * every index itself (the enqueuer's generate_series insert); null when a piece list
   * would exceed `maxPieces` (a derive that reads axes whose lengths multiply beyond it).
   * Not for adaptive sweeps (`refine`): their indexes are lattice points, not this product.
   */
  paramsLayout?(maxPieces?: number): ParamsLayout | null;
}

/**
 * The JSON object paramsAt(i) gives, in pieces: its members are, in order, those of
 * each part's `members[sub]`, where `sub` is the mixed-radix number (last axis fastest)
 * of i's digits on the part's `axes`. One part per axis with variables, then one per
 * derive. A derive that is not finite at a combination has no member there (null) and
 * the reason in `errors[sub]`: configAt and paramsAt throw for those indexes.
 */
export interface ParamsLayout {
  lengths: number[];
  parts: { axes: number[]; members: (string | null)[]; errors: (string | null)[] | null }[];
}

const TOP_FIELDS = ['name', 'tags', 'description', 'base', 'axes', 'derive', 'refine'];
const SIMPLE_KINDS = ['values', 'linspace', 'logspace', 'replicates'] as const;
const AXIS_KINDS = [...SIMPLE_KINDS, 'zip', 'random'] as const;
const DISTRIBUTIONS = ['uniform', 'loguniform', 'choice', 'randint'] as const;
const PARAM_RE = new RegExp(PARAM_PATTERN);
const INDEX_RE = /^(0|[1-9][0-9]*)$/;
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'prototype', 'constructor']);
const CONFIG_FIELD_SET = new Set(CONFIG_FIELDS);
const MAX_BASE_DEPTH = 64;

type Segment = string | number;

interface VarDef {
  name: string;
  /** Where the param is declared (pointer to its name in the spec). */
  at: string;
  /** Axis position, for messages. */
  axis: number;
  numeric: boolean;
  valueAt: (d: number) => unknown;
  slot: number;
  /** Path segments when the param is a configuration path, else null (free variable). */
  segs: Segment[] | null;
}

interface AxisDef {
  length: number;
  vars: VarDef[];
}

interface DeriveDef {
  key: string;
  at: string;
  segs: Segment[];
  evaluate: Evaluator;
  /** The variable slots the expression reads. */
  slots: number[];
}

type Issues = SpecIssue[];

// ------------------------------------------------------------------ helpers

function unknownKeys(obj: Record<string, unknown>, allowed: readonly string[], at: string, issues: Issues): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      const hint = didYouMean(k, allowed) || ` (allowed here: ${allowed.join(', ')})`;
      issues.push({ path: at + '/' + pointerToken(k), message: `unknown field ${JSON.stringify(k)}${hint}` });
    }
  }
}

function checkParamName(name: unknown, at: string, issues: Issues): name is string {
  if (typeof name !== 'string') {
    issues.push({ path: at, message: `param must be a string (a dotted path such as "rewards.1.scale", or a free variable name), got ${typeName(name)}` });
    return false;
  }
  if (!PARAM_RE.test(name)) {
    issues.push({
      path: at,
      message: `invalid param ${JSON.stringify(name)}: use letters, digits and _ separated by dots, starting with a letter or _ (e.g. "rewards.1.scale", "D")`,
    });
    return false;
  }
  const bad = name.split('.').find((s) => FORBIDDEN_SEGMENTS.has(s));
  if (bad !== undefined) {
    issues.push({ path: at, message: `invalid param ${JSON.stringify(name)}: '${bad}' is a reserved name` });
    return false;
  }
  return true;
}

function toSegments(name: string): Segment[] {
  return name.split('.').map((s) => (INDEX_RE.test(s) ? Number(s) : s));
}

/** Checks a configuration path against base; returns an error message or null. */
function checkPathInBase(base: Record<string, unknown>, name: string, segs: Segment[]): string | null {
  let cur: unknown = base;
  let where = 'base';
  for (let k = 0; k < segs.length; k++) {
    const s = segs[k];
    const last = k === segs.length - 1;
    if (typeof s === 'number') {
      if (!Array.isArray(cur)) {
        return `cannot set '${name}': ${where} is ${typeName(cur)}, not an array, so it cannot be indexed by ${s}`;
      }
      if (s >= cur.length) {
        return `cannot set '${name}': ${where} has ${cur.length} element${cur.length === 1 ? '' : 's'}, there is no index ${s} (add it to base first)`;
      }
    } else {
      if (!isPlainObject(cur)) {
        return `cannot set '${name}': ${where} is ${typeName(cur)}, not an object with fields`;
      }
      if (!last && !Object.prototype.hasOwnProperty.call(cur, s)) {
        return `cannot set '${name}': ${where} has no field '${s}' (add it to base first; only the last part of a path may name a missing field)`;
      }
    }
    if (!last) {
      cur = (cur as Record<string | number, unknown>)[s];
      where += typeof s === 'number' ? `[${s}]` : `.${s}`;
    }
  }
  return null;
}

function setPath(root: unknown, segs: Segment[], value: unknown): void {
  let cur = root as Record<string | number, unknown>;
  const n = segs.length - 1;
  for (let k = 0; k < n; k++) cur = cur[segs[k]] as Record<string | number, unknown>;
  cur[segs[n]] = value;
}

function checkJsonValue(v: unknown, at: string, depth: number, issues: Issues, seen: Set<object>): void {
  if (issues.length >= 20) return;
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) issues.push({ path: at, message: `must be a finite number, got ${v}` });
    return;
  }
  if (typeof v !== 'object') {
    issues.push({ path: at, message: `not a JSON value (${typeof v})` });
    return;
  }
  if (depth > MAX_BASE_DEPTH) {
    issues.push({ path: at, message: `nested more than ${MAX_BASE_DEPTH} levels deep` });
    return;
  }
  if (seen.has(v)) {
    issues.push({ path: at, message: 'circular reference' });
    return;
  }
  if (Array.isArray(v)) {
    seen.add(v);
    for (let i = 0; i < v.length; i++) checkJsonValue(v[i], `${at}/${i}`, depth + 1, issues, seen);
    seen.delete(v);
    return;
  }
  if (!isPlainObject(v)) {
    issues.push({ path: at, message: 'not a JSON value (not a plain object)' });
    return;
  }
  seen.add(v);
  for (const k of Object.keys(v)) checkJsonValue(v[k], `${at}/${pointerToken(k)}`, depth + 1, issues, seen);
  seen.delete(v);
}

// ------------------------------------------------------------------ axes

interface SimpleAxis {
  name: string;
  at: string;
  kindAt: string;
  length: number;
  numeric: boolean;
  valueAt: (d: number) => unknown;
}

function isScalar(v: unknown): boolean {
  return typeof v === 'string' || typeof v === 'boolean' || isFiniteNumber(v);
}

function checkScalars(list: unknown, at: string, what: string, issues: Issues): list is (number | string | boolean)[] {
  if (!Array.isArray(list)) {
    issues.push({ path: at, message: `${what} must be a list of numbers, strings or booleans, got ${typeName(list)}` });
    return false;
  }
  if (list.length === 0) {
    issues.push({ path: at, message: `${what} must not be empty` });
    return false;
  }
  let ok = true;
  for (let i = 0; i < list.length; i++) {
    if (!isScalar(list[i])) {
      issues.push({ path: `${at}/${i}`, message: `must be a finite number, a string or a boolean, got ${typeName(list[i])}` });
      ok = false;
    }
  }
  return ok;
}

function parseTriple(v: unknown, at: string, kind: 'linspace' | 'logspace', issues: Issues): [number, number, number] | null {
  const form = `${kind} must be [from, to, count]`;
  if (!Array.isArray(v) || v.length !== 3) {
    issues.push({ path: at, message: `${form}, got ${Array.isArray(v) ? `a list of ${v.length}` : typeName(v)}` });
    return null;
  }
  let ok = true;
  const [from, to, count] = v;
  for (const [i, x] of [[0, from], [1, to]] as const) {
    if (!isFiniteNumber(x)) {
      issues.push({ path: `${at}/${i}`, message: `${i === 0 ? 'from' : 'to'} must be a finite number, got ${typeName(x)}` });
      ok = false;
    } else if (kind === 'logspace' && x <= 0) {
      issues.push({ path: `${at}/${i}`, message: `logspace ${i === 0 ? 'from' : 'to'} must be > 0 (it is the value itself, not an exponent), got ${x}` });
      ok = false;
    }
  }
  if (!isSafeInt(count) || count < 1) {
    issues.push({ path: `${at}/2`, message: `count must be an integer >= 1, got ${show(count)}` });
    ok = false;
  }
  return ok ? [from as number, to as number, count as number] : null;
}

function linspaceAt(from: number, to: number, count: number): (d: number) => number {
  const div = count - 1;
  const scale = Math.max(Math.abs(from), Math.abs(to));
  return (d) => {
    if (d === 0) return from;
    if (d === div) return to;
    let v = (from * (div - d) + to * d) / div;
    if (!Number.isFinite(v)) v = from * ((div - d) / div) + to * (d / div);
    if (Math.abs(v) < scale * 1e-15) return 0;
    return tidy(v);
  };
}

function logspaceAt(from: number, to: number, count: number): (d: number) => number {
  const div = count - 1;
  const a = Math.log10(from);
  const b = Math.log10(to);
  return (d) => {
    if (d === 0) return from;
    if (d === div) return to;
    return tidy(Math.pow(10, (a * (div - d) + b * d) / div));
  };
}

function parseSimple(obj: Record<string, unknown>, kind: string, at: string, issues: Issues): SimpleAxis | null {
  unknownKeys(obj, ['param', kind], at, issues);
  const before = issues.length;
  const nameOk = checkParamName(obj.param, `${at}/param`, issues);
  const kindAt = `${at}/${kind}`;
  const v = obj[kind];
  let length = 0;
  let numeric = true;
  let valueAt: ((d: number) => unknown) | null = null;
  if (kind === 'values') {
    if (checkScalars(v, kindAt, 'values', issues)) {
      const values = v.slice();
      length = values.length;
      numeric = values.every((x) => typeof x === 'number');
      valueAt = (d) => values[d];
    }
  } else if (kind === 'linspace' || kind === 'logspace') {
    const t = parseTriple(v, kindAt, kind, issues);
    if (t) {
      length = t[2];
      valueAt = kind === 'linspace' ? linspaceAt(t[0], t[1], t[2]) : logspaceAt(t[0], t[1], t[2]);
    }
  } else {
    if (!isSafeInt(v) || v < 1) {
      issues.push({ path: kindAt, message: `replicates must be an integer >= 1 (the param takes 0..N-1), got ${show(v)}` });
    } else {
      length = v;
      valueAt = (d) => d;
    }
  }
  if (!nameOk || !valueAt || issues.length !== before) return null;
  return { name: obj.param as string, at: `${at}/param`, kindAt, length, numeric, valueAt };
}

function axisKind(obj: Record<string, unknown>, allowed: readonly string[], at: string, issues: Issues): string | null {
  const kinds = Object.keys(obj).filter((k) => (AXIS_KINDS as readonly string[]).includes(k));
  if (kinds.length === 1 && allowed.includes(kinds[0])) return kinds[0];
  if (kinds.length === 1) {
    issues.push({ path: `${at}/${kinds[0]}`, message: `'${kinds[0]}' is not allowed here (allowed: ${allowed.join(', ')})` });
  } else if (kinds.length === 0) {
    // A misspelt kind ("linespace") is the likely cause: name it first, with the fix.
    const misspelt = Object.keys(obj).filter((k) => k !== 'param');
    const named = misspelt.filter((k) => didYouMean(k, allowed) !== '');
    for (const k of named) {
      issues.push({ path: `${at}/${pointerToken(k)}`, message: `unknown axis kind ${JSON.stringify(k)}${didYouMean(k, allowed)}` });
    }
    if (named.length === 0) {
      const simple = SIMPLE_KINDS.join(', ');
      const found = misspelt.length ? `; found ${misspelt.map((k) => JSON.stringify(k)).join(', ')}` : '';
      issues.push({
        path: at,
        message: allowed.includes('zip')
          ? `an axis needs a param with one of ${simple}, or a zip or random block${found}`
          : `a zip member needs a param with one of ${simple}${found}`,
      });
    }
  } else {
    issues.push({ path: at, message: `an axis must have exactly one of ${allowed.join(', ')}; found ${kinds.join(', ')}` });
  }
  return null;
}

function parseRandom(r: unknown, at: string, axis: number, issues: Issues): { length: number; vars: Omit<VarDef, 'slot' | 'segs'>[] } | null {
  if (!isPlainObject(r)) {
    issues.push({ path: at, message: `random must be an object { n, seed, params }, got ${typeName(r)}` });
    return null;
  }
  const before = issues.length;
  unknownKeys(r, ['n', 'seed', 'params'], at, issues);
  if (!isSafeInt(r.n) || r.n < 1) issues.push({ path: `${at}/n`, message: `n (number of points) must be an integer >= 1, got ${show(r.n)}` });
  if (!isSafeInt(r.seed)) issues.push({ path: `${at}/seed`, message: `seed must be an integer, got ${show(r.seed)}` });
  const params = r.params;
  const vars: Omit<VarDef, 'slot' | 'segs'>[] = [];
  if (!isPlainObject(params)) {
    issues.push({ path: `${at}/params`, message: `params must be an object { name: distribution }, got ${typeName(params)}` });
  } else if (Object.keys(params).length === 0) {
    issues.push({ path: `${at}/params`, message: 'params must name at least one param' });
  } else {
    const seed = isSafeInt(r.seed) ? r.seed : 0;
    // Sorted so that the variables' order does not depend on key order (e.g. after a round trip through jsonb).
    for (const name of Object.keys(params).sort()) {
      const pAt = `${at}/params/${pointerToken(name)}`;
      const nameOk = checkParamName(name, pAt, issues);
      const dist = params[name];
      if (!isPlainObject(dist)) {
        issues.push({ path: pAt, message: `a distribution must be one of { uniform: [a, b] }, { loguniform: [a, b] }, { choice: [...] }, { randint: [a, b] }, got ${typeName(dist)}` });
        continue;
      }
      const keys = Object.keys(dist);
      if (keys.length === 1 && !(DISTRIBUTIONS as readonly string[]).includes(keys[0]) && didYouMean(keys[0], DISTRIBUTIONS)) {
        issues.push({ path: `${pAt}/${pointerToken(keys[0])}`, message: `unknown distribution ${JSON.stringify(keys[0])}${didYouMean(keys[0], DISTRIBUTIONS)}` });
        continue;
      }
      if (keys.length !== 1 || !(DISTRIBUTIONS as readonly string[]).includes(keys[0])) {
        issues.push({ path: pAt, message: `a distribution must have exactly one of ${DISTRIBUTIONS.join(', ')}; found ${keys.length ? keys.join(', ') : 'none'}` });
        continue;
      }
      const kind = keys[0];
      const dAt = `${pAt}/${kind}`;
      const arg = dist[kind];
      const key = streamKey(seed, name);
      let valueAt: ((d: number) => unknown) | null = null;
      let numeric = true;
      if (kind === 'choice') {
        if (checkScalars(arg, dAt, 'choice', issues)) {
          const options = arg.slice();
          numeric = options.every((x) => typeof x === 'number');
          valueAt = (j) => options[pointRng(key, j).nextBelow(options.length)];
        }
      } else {
        const pairOk = Array.isArray(arg) && arg.length === 2 && arg.every(isFiniteNumber);
        if (!pairOk) {
          issues.push({ path: dAt, message: `${kind} must be [a, b] with two finite numbers, got ${show(arg)}` });
          continue;
        }
        const [a, b] = arg as [number, number];
        if (a > b) {
          issues.push({ path: dAt, message: `${kind} [a, b] needs a <= b, got [${a}, ${b}]` });
          continue;
        }
        if (kind === 'uniform') {
          valueAt = (j) => {
            const v = a + (b - a) * pointRng(key, j).nextFloat();
            return v < b || a === b ? v : a; // rounding can reach b; [a, b) as documented
          };
        } else if (kind === 'loguniform') {
          if (a <= 0) {
            issues.push({ path: `${dAt}/0`, message: `loguniform needs 0 < a <= b, got a = ${a}` });
            continue;
          }
          const la = Math.log(a);
          const lb = Math.log(b);
          valueAt = (j) => Math.min(b, Math.max(a, Math.exp(la + (lb - la) * pointRng(key, j).nextFloat())));
        } else {
          if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b)) {
            issues.push({ path: dAt, message: `randint [a, b] needs integers, got [${a}, ${b}]` });
            continue;
          }
          const span = b - a + 1;
          if (span > 4294967296) {
            issues.push({ path: dAt, message: `randint [a, b] needs b - a < 2^32, got [${a}, ${b}]` });
            continue;
          }
          valueAt = (j) => a + pointRng(key, j).nextBelow(span);
        }
      }
      if (nameOk && valueAt) vars.push({ name, at: pAt, axis, numeric, valueAt });
    }
  }
  if (issues.length !== before) return null;
  return { length: r.n as number, vars };
}

function parseAxis(a: unknown, k: number, issues: Issues): { length: number; vars: Omit<VarDef, 'slot' | 'segs'>[] } | null {
  const at = `/axes/${k}`;
  if (!isPlainObject(a)) {
    issues.push({ path: at, message: `an axis must be an object, got ${typeName(a)}` });
    return null;
  }
  const kind = axisKind(a, AXIS_KINDS, at, issues);
  if (kind === null) return null;
  if (kind === 'random') {
    unknownKeys(a, ['random'], at, issues);
    return parseRandom(a.random, `${at}/random`, k, issues);
  }
  if (kind === 'zip') {
    unknownKeys(a, ['zip'], at, issues);
    const zip = a.zip;
    if (!Array.isArray(zip) || zip.length === 0) {
      issues.push({ path: `${at}/zip`, message: `zip must be a non-empty list of { param, values | linspace | logspace | replicates }, got ${Array.isArray(zip) ? 'an empty list' : typeName(zip)}` });
      return null;
    }
    const before = issues.length;
    const members: SimpleAxis[] = [];
    zip.forEach((m, i) => {
      const mAt = `${at}/zip/${i}`;
      if (!isPlainObject(m)) {
        issues.push({ path: mAt, message: `a zip member must be an object { param, values | linspace | logspace | replicates }, got ${typeName(m)}` });
        return;
      }
      const mk = axisKind(m, SIMPLE_KINDS, mAt, issues);
      if (mk === null) return;
      const s = parseSimple(m, mk, mAt, issues);
      if (s) members.push(s);
    });
    if (members.length > 0) {
      const first = members[0];
      for (const m of members.slice(1)) {
        if (m.length !== first.length) {
          issues.push({
            path: m.kindAt,
            message: `zip members must all have the same length: '${m.name}' has ${m.length} values but '${first.name}' (${first.at.replace(/\/param$/, '')}) has ${first.length}`,
          });
        }
      }
    }
    if (issues.length !== before) return null;
    return { length: members[0].length, vars: members.map((m) => ({ name: m.name, at: m.at, axis: k, numeric: m.numeric, valueAt: m.valueAt })) };
  }
  const s = parseSimple(a, kind, at, issues);
  if (!s) return null;
  return { length: s.length, vars: [{ name: s.name, at: s.at, axis: k, numeric: s.numeric, valueAt: s.valueAt }] };
}

// ------------------------------------------------------------------ compile

/**
 * Validates the structure of a sweep specification and compiles it.
 * Throws SpecError listing every problem found.
 */
export function compileSweep(spec: unknown): CompiledSweep {
  if (!isPlainObject(spec)) {
    throw new SpecError([{ path: '', message: `a sweep specification must be an object { name, base, axes, derive }, got ${typeName(spec)}` }]);
  }
  const issues: Issues = [];
  checkHeader(spec, issues);
  const base = checkBase(spec.base, issues);
  const parsed = parseAxes(spec.axes, issues);
  const { axes } = parsed;
  const refine = spec.refine === undefined ? undefined : parseRefine(spec.refine, issues, checkParamName);
  const axesOk = parsed.axesOk && refine !== null;
  // Refine axes first: the full index of a lattice point is then its key x (configurations per point) + combination.
  if (refine) axes.unshift(...refineAxisDefs(refine).map((a) => ({ length: a.length, vars: a.vars.map((v) => ({ ...v, slot: -1, segs: null })) })));
  const vars = collectVariables(axes, base, issues);
  const { derives, deriveOk, used } = parseDerive(spec.derive, vars, base, axesOk, issues);
  checkNesting(vars, derives, issues);
  if (axesOk && deriveOk) checkFreeVariablesUsed(vars, used, issues);
  const total = axes.reduce((t, a) => t * a.length, 1);
  if (axesOk && total > Number.MAX_SAFE_INTEGER) {
    issues.push({ path: '/axes', message: `the axes multiply to more than 2^53 configurations (${total.toExponential(3)})` });
  }
  if (refine && axesOk) checkRefineSize(refine, total / axes.slice(0, refine.axes.length).reduce((t, a) => t * a.length, 1), issues);
  if (issues.length > 0) throw new SpecError(issues);
  const compiled = build(base as Record<string, unknown>, axes, vars, derives, total);
  return refine ? withRefine(compiled, refine) : compiled;
}

/** name, tags, description, and no unknown top-level field. */
function checkHeader(spec: Record<string, unknown>, issues: Issues): void {
  unknownKeys(spec, TOP_FIELDS, '', issues);
  if (typeof spec.name !== 'string' || spec.name.length === 0 || spec.name.length > 200) {
    issues.push({
      path: '/name',
      message: spec.name === undefined ? 'name is required' : `name must be a string of 1 to 200 characters, got ${typeof spec.name === 'string' ? `${spec.name.length} characters` : typeName(spec.name)}`,
    });
  }
  if (spec.tags !== undefined) {
    if (!Array.isArray(spec.tags)) issues.push({ path: '/tags', message: `tags must be a list of strings, got ${typeName(spec.tags)}` });
    else spec.tags.forEach((t, i) => {
      if (typeof t !== 'string' || t.length === 0 || t.length > 100) issues.push({ path: `/tags/${i}`, message: `a tag must be a string of 1 to 100 characters, got ${typeName(t)}` });
    });
  }
  if (spec.description !== undefined && typeof spec.description !== 'string') {
    issues.push({ path: '/description', message: `description must be a string, got ${typeName(spec.description)}` });
  }
}

/** base, when it is a JSON object (its fields are checked per configuration by validateSweep), else null. */
function checkBase(base: unknown, issues: Issues): Record<string, unknown> | null {
  if (base === undefined) {
    issues.push({ path: '/base', message: 'base (the RunConfig every configuration starts from) is required' });
    return null;
  }
  if (!isPlainObject(base)) {
    issues.push({ path: '/base', message: `base must be an object (a RunConfig), got ${typeName(base)}` });
    return null;
  }
  const before = issues.length;
  checkJsonValue(base, '/base', 0, issues, new Set());
  return issues.length === before ? base : null;
}

function parseAxes(list: unknown, issues: Issues): { axes: AxisDef[]; axesOk: boolean } {
  const axes: AxisDef[] = [];
  if (list === undefined) return { axes, axesOk: true };
  if (!Array.isArray(list)) {
    issues.push({ path: '/axes', message: `axes must be a list, got ${typeName(list)}` });
    return { axes, axesOk: false };
  }
  let axesOk = true;
  list.forEach((a, k) => {
    const parsed = parseAxis(a, k, issues);
    if (parsed) axes.push({ length: parsed.length, vars: parsed.vars.map((v) => ({ ...v, slot: -1, segs: null })) });
    else axesOk = false;
  });
  return { axes, axesOk };
}

/**
 * The axis variables in axis order, each given its slot; a param may be varied by one
 * axis only; a configuration path must exist in base (all but its last part).
 */
function collectVariables(axes: AxisDef[], base: Record<string, unknown> | null, issues: Issues): VarDef[] {
  const vars: VarDef[] = [];
  const byName = new Map<string, VarDef>();
  for (const axis of axes) {
    for (const v of axis.vars) {
      const prev = byName.get(v.name);
      if (prev) {
        issues.push({ path: v.at, message: `param '${v.name}' is already varied by ${prev.at}; a param may appear in one axis only` });
        continue;
      }
      v.slot = vars.length;
      vars.push(v);
      byName.set(v.name, v);
      const segs = toSegments(v.name);
      if (CONFIG_FIELD_SET.has(segs[0] as string)) {
        v.segs = segs;
        if (base) {
          const err = checkPathInBase(base, v.name, segs);
          if (err) issues.push({ path: v.at, message: err });
        }
      } else if (CONSTANT_NAMES.includes(v.name)) {
        issues.push({ path: v.at, message: `'${v.name}' is a constant in derive expressions; choose another name for this free variable` });
      }
    }
  }
  return vars;
}

function parseDerive(
  derive: unknown, vars: VarDef[], base: Record<string, unknown> | null, axesOk: boolean, issues: Issues,
): { derives: DeriveDef[]; deriveOk: boolean; used: Set<number> } {
  const derives: DeriveDef[] = [];
  const used = new Set<number>();
  if (derive === undefined) return { derives, deriveOk: true, used };
  if (!isPlainObject(derive)) {
    issues.push({ path: '/derive', message: `derive must be an object { "config.path": "expression" }, got ${typeName(derive)}` });
    return { derives, deriveOk: false, used };
  }
  const byName = new Map(vars.map((v) => [v.name, v]));
  const scope: ExprScope = {
    lookup: (name) => byName.get(name)?.slot,
    isNumeric: (slot) => vars[slot].numeric,
    names: () => vars.map((v) => v.name),
  };
  let deriveOk = true;
  for (const key of Object.keys(derive)) {
    const at = pointer('derive', key);
    const src = derive[key];
    const before = issues.length;
    if (!checkParamName(key, at, issues)) { deriveOk = false; continue; }
    const segs = toSegments(key);
    if (!CONFIG_FIELD_SET.has(segs[0] as string)) {
      issues.push({ path: at, message: `derive sets configuration fields: '${segs[0]}' is not one${didYouMean(String(segs[0]), CONFIG_FIELDS) || ` (fields: ${CONFIG_FIELDS.join(', ')})`}` });
    } else if (base) {
      const err = checkPathInBase(base, key, segs);
      if (err) issues.push({ path: at, message: err });
    }
    const axisVar = byName.get(key);
    if (axisVar) issues.push({ path: at, message: `'${key}' is also varied by ${axisVar.at}; set it either by an axis or by derive` });
    if (typeof src !== 'string' || src.trim() === '') {
      issues.push({ path: at, message: `a derive expression must be a non-empty string, got ${typeof src === 'string' ? 'an empty string' : typeName(src)}` });
      deriveOk = false;
      continue;
    }
    if (!axesOk) continue; // unknown variables would be reported for axes that failed to parse
    try {
      const c = compileExpression(src, scope);
      for (const s of c.slots) used.add(s);
      if (issues.length === before) derives.push({ key, at, segs, evaluate: c.evaluate, slots: [...c.slots] });
    } catch (e) {
      if (!(e instanceof ExprError)) throw e;
      issues.push({ path: at, message: `${e.message} in ${JSON.stringify(src)}` });
      deriveOk = false;
    }
  }
  return { derives, deriveOk, used };
}

/** One configuration path inside another would make the result depend on the order of application. */
function checkNesting(vars: VarDef[], derives: DeriveDef[], issues: Issues): void {
  const targets: { name: string; at: string; segs: Segment[] }[] = [];
  for (const v of vars) if (v.segs) targets.push({ name: v.name, at: v.at, segs: v.segs });
  for (const d of derives) targets.push({ name: d.key, at: d.at, segs: d.segs });
  for (const t of targets) {
    for (const u of targets) {
      if (t !== u && u.segs.length < t.segs.length && u.segs.every((s, i) => s === t.segs[i])) {
        issues.push({ path: t.at, message: `'${t.name}' lies inside '${u.name}', which ${u.at} also sets` });
      }
    }
  }
}

/** A free variable no derive expression reads is most likely a misspelt configuration field. */
function checkFreeVariablesUsed(vars: VarDef[], used: Set<number>, issues: Issues): void {
  for (const v of vars) {
    if (v.segs === null && !used.has(v.slot) && !CONSTANT_NAMES.includes(v.name)) {
      const first = v.name.split('.')[0];
      const hint = didYouMean(first, CONFIG_FIELDS) || ` (a typo? configuration fields: ${CONFIG_FIELDS.join(', ')})`;
      issues.push({
        path: v.at,
        message: `'${v.name}' is not a configuration field, so it is a free variable, and no derive expression uses it${hint}`,
      });
    }
  }
}

function build(base: Record<string, unknown>, axes: AxisDef[], vars: VarDef[], derives: DeriveDef[], total: number): CompiledSweep {
  const frozenBase = cloneJson(base);
  const lengths = axes.map((a) => a.length);
  const axisVars = axes.map((a) => a.vars);
  const configVars = vars.filter((v) => v.segs !== null);
  const nAxes = axes.length;
  const nVars = vars.length;

  const check = (i: number): void => {
    if (!Number.isSafeInteger(i) || i < 0 || i >= total) {
      throw new RangeError(`configuration index ${String(i)} is out of range 0..${total - 1}`);
    }
  };

  /** Mixed-radix decomposition of i, last axis fastest (exact: only %, - and exact division). */
  const fill = (i: number): unknown[] => {
    const vals = new Array<unknown>(nVars);
    let rem = i;
    for (let k = nAxes - 1; k >= 0; k--) {
      const len = lengths[k];
      const d = rem % len;
      rem = (rem - d) / len;
      const vs = axisVars[k];
      for (let m = 0; m < vs.length; m++) vals[vs[m].slot] = vs[m].valueAt(d);
    }
    return vals;
  };

  /** The derive values of configuration i, in derive order; a non-finite one is the spec's error. */
  const derivedAt = (i: number, vals: unknown[]): ExprValue[] => derives.map((d) => {
    const v = d.evaluate(vals);
    if (!allFinite(v)) {
      const at = vars.map((x) => `${x.name}=${show(vals[x.slot])}`).join(', ');
      throw new SpecError([{ path: d.at, index: i, message: `gives ${showExpr(v)}, not a finite number, at ${at}` }]);
    }
    return v;
  });

  return {
    total,
    variables: vars.map((v) => v.name),
    paths: [...configVars.map((v) => v.name), ...derives.map((d) => d.key)],
    derived: derives.map((d) => d.key),
    paramsAt(i: number): Record<string, unknown> {
      check(i);
      const vals = fill(i);
      const out: Record<string, unknown> = {};
      for (let s = 0; s < nVars; s++) out[vars[s].name] = vals[s];
      const dv = derivedAt(i, vals);
      for (let m = 0; m < derives.length; m++) out[derives[m].key] = dv[m];
      return out;
    },
    configAt(i: number): unknown {
      check(i);
      const vals = fill(i);
      const cfg = cloneJson(frozenBase);
      for (let m = 0; m < configVars.length; m++) setPath(cfg, configVars[m].segs as Segment[], vals[configVars[m].slot]);
      const dv = derivedAt(i, vals);
      for (let m = 0; m < derives.length; m++) setPath(cfg, derives[m].segs, dv[m]);
      return cfg;
    },
    lengths: [...lengths],
    paramsLayout(maxPieces = 100_000): ParamsLayout | null {
      const axisOf = new Map<number, number>();
      for (let k = 0; k < nAxes; k++) for (const v of axisVars[k]) axisOf.set(v.slot, k);
      const member = (name: string, value: unknown) => JSON.stringify(name) + ':' + JSON.stringify(value);
      const parts: ParamsLayout['parts'] = [];
      for (let k = 0; k < nAxes; k++) {
        const vs = axisVars[k];
        if (!vs.length) continue;
        if (lengths[k] > maxPieces) return null;
        const members = Array.from({ length: lengths[k] }, (_, d) => vs.map((v) => member(v.name, v.valueAt(d))).join(','));
        parts.push({ axes: [k], members, errors: null });
      }
      for (const d of derives) {
        const on = [...new Set(d.slots.map((s) => axisOf.get(s)!))].sort((a, b) => a - b);
        const count = on.reduce((t, k) => t * lengths[k], 1);
        if (count > maxPieces) return null;
        const members: (string | null)[] = [];
        const errors: (string | null)[] = [];
        let anyError = false;
        const vals = new Array<unknown>(nVars);
        for (let sub = 0; sub < count; sub++) {
          let rem = sub;
          for (let j = on.length - 1; j >= 0; j--) {
            const k = on[j];
            const digit = rem % lengths[k];
            rem = (rem - digit) / lengths[k];
            for (const v of axisVars[k]) vals[v.slot] = v.valueAt(digit);
          }
          const v = d.evaluate(vals);
          if (allFinite(v)) {
            members.push(member(d.key, v));
            errors.push(null);
          } else {
            anyError = true;
            members.push(null);
            const at = on.flatMap((k) => axisVars[k].map((x) => `${x.name}=${show(vals[x.slot])}`)).join(', ');
            errors.push(`${d.at}: gives ${showExpr(v)}, not a finite number, at ${at}`);
          }
        }
        parts.push({ axes: on, members, errors: anyError ? errors : null });
      }
      return { lengths: [...lengths], parts };
    },
  };
}

function showExpr(v: ExprValue): string {
  return typeof v === 'number' ? String(v) : `[${v.map(showExpr).join(', ')}]`;
}
