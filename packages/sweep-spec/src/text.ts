// Parsing specification text (JSON or YAML) into a value; compileSweep checks it.

import { parseDocument, visit } from 'yaml';
import { pointer, SpecError } from './errors.ts';

function lineCol(text: string, offset: number): { line: number; column: number } {
  const o = Math.max(0, Math.min(offset, text.length));
  let line = 1;
  let start = 0;
  for (let i = 0; i < o; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: o - start + 1 };
}

class JsonSyntax {
  constructor(readonly offset: number, readonly reason: string) {}
}

const JSON_NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const MAX_JSON_DEPTH = 2000;

/** Locates the first JSON syntax error (offset and reason), or null if the text is valid JSON. */
export function findJsonError(s: string): { offset: number; reason: string } | null {
  let i = 0;
  const fail = (reason: string): never => {
    throw new JsonSyntax(i, i >= s.length ? `${reason}: unexpected end of input` : reason);
  };
  const ws = (): void => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === '\n' || s[i] === '\r')) i++;
  };
  const str = (): void => {
    i++;
    for (;;) {
      if (i >= s.length) fail('unterminated string');
      const c = s[i];
      if (c === '"') { i++; return; }
      if (c === '\\') {
        const n = s[i + 1];
        if (n === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) { i++; fail('invalid \\u escape in string'); }
          i += 6;
        } else if (n !== undefined && '"\\/bfnrt'.includes(n)) i += 2;
        else { i++; fail('invalid escape in string'); }
        continue;
      }
      if (c < ' ') fail('control character in string (escape it)');
      i++;
    }
  };
  const value = (depth: number): void => {
    if (depth > MAX_JSON_DEPTH) fail('nested too deeply');
    ws();
    const c = s[i];
    if (c === '{') {
      i++;
      ws();
      if (s[i] === '}') { i++; return; }
      for (;;) {
        ws();
        if (s[i] !== '"') fail('expected a double-quoted property name');
        str();
        ws();
        if (s[i] !== ':') fail("expected ':' after a property name");
        i++;
        value(depth + 1);
        ws();
        if (s[i] === ',') { i++; continue; }
        if (s[i] === '}') { i++; return; }
        fail("expected ',' or '}' after a property value");
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (s[i] === ']') { i++; return; }
      for (;;) {
        value(depth + 1);
        ws();
        if (s[i] === ',') { i++; continue; }
        if (s[i] === ']') { i++; return; }
        fail("expected ',' or ']' after an array element");
      }
    }
    if (c === '"') return str();
    if (c === '-' || (c >= '0' && c <= '9')) {
      JSON_NUMBER.lastIndex = i;
      const m = JSON_NUMBER.exec(s);
      if (!m) fail('invalid number');
      i += (m as RegExpExecArray)[0].length;
      return;
    }
    for (const word of ['true', 'false', 'null']) {
      if (s.startsWith(word, i)) { i += word.length; return; }
    }
    fail(c === undefined ? 'expected a value' : `unexpected character ${JSON.stringify(c)}`);
  };
  try {
    value(0);
    ws();
    if (i < s.length) fail('unexpected text after the JSON value');
    return null;
  } catch (e) {
    if (e instanceof JsonSyntax) return { offset: e.offset, reason: e.reason };
    throw e;
  }
}

/** Most alias uses in one YAML document (the yaml library's maxAliasCount, which also weighs nested aliases). */
export const MAX_YAML_ALIASES = 100;

function fail(message: string): never {
  throw new SpecError([{ path: '', message }], message);
}

/** Bounds on a specification after parsing, aliases expanded (what is stored and compiled). */
export interface SpecSizeLimits {
  /** Most characters of its JSON form (what is stored, and what GET /sweeps/:id returns); about its bytes. */
  maxBytes: number;
  /** Most values (objects, lists and scalars), each alias counted at every use. */
  maxNodes: number;
  /** Most elements in any one list. */
  maxListLength: number;
  /**
   * Most items in YAML text before it is parsed, counted as commas plus line breaks (an
   * upper bound on its entries, comments and quoted commas included). The yaml library
   * takes tens of microseconds per item, so a long list in YAML would hold the event loop
   * for seconds before any bound after parsing could refuse it; JSON has no such cost.
   */
  maxYamlItems: number;
}

export const DEFAULT_SIZE_LIMITS: SpecSizeLimits = { maxBytes: 10 * 1024 * 1024, maxNodes: 1_000_000, maxListLength: 100_000, maxYamlItems: 20_000 };

/** What went over a SpecSizeLimits bound, with the numbers. */
export interface SpecOversize {
  limit: 'maxBytes' | 'maxNodes' | 'maxListLength' | 'maxYamlItems' | 'maxYamlAliases';
  /** The size when the walk stopped (at least this much; the walk stops at the bound). */
  found: number;
  max: number;
  /** Where it went over: the long list, or the value at which the total passed the bound. */
  path: string;
  message: string;
}

/** Thrown by parseSpecText when the parsed document is larger than its SpecSizeLimits. */
export class SpecTooLargeError extends SpecError {
  readonly oversize: SpecOversize;
  constructor(o: SpecOversize) {
    super([{ path: o.path, message: o.message }], o.message);
    this.name = 'SpecTooLargeError';
    this.oversize = o;
  }
}

interface Frame { value: unknown; parent: Frame | null; key: string | number }

const framePath = (f: Frame | null): string => {
  const keys: (string | number)[] = [];
  for (let x = f; x && x.parent; x = x.parent) keys.push(x.key);
  return pointer(...keys.reverse());
};

/** JSON text length of a scalar, closely enough to bound it (strings without their escapes). */
const scalarBytes = (v: unknown): number =>
  typeof v === 'string' ? v.length + 2 : typeof v === 'number' ? String(v).length : v === true ? 4 : v === false ? 5 : 4;

/**
 * Measures a parsed specification as it would be expanded (a YAML alias counts at every
 * use, as JSON.stringify and every reader see it) and stops at the first bound crossed,
 * so the walk costs at most maxNodes steps whatever the aliases multiply to. null: within
 * the limits.
 */
export function measureSpec(value: unknown, limits: SpecSizeLimits = DEFAULT_SIZE_LIMITS): SpecOversize | null {
  let nodes = 0;
  let bytes = 0;
  const stack: Frame[] = [{ value, parent: null, key: '' }];
  while (stack.length) {
    const f = stack.pop()!;
    const v = f.value;
    nodes++;
    if (Array.isArray(v)) {
      if (v.length > limits.maxListLength) {
        const message = `a list of ${v.length} elements, more than the limit of ${limits.maxListLength} per list`;
        return { limit: 'maxListLength', found: v.length, max: limits.maxListLength, path: framePath(f), message };
      }
      bytes += 1 + Math.max(1, v.length);
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], parent: f, key: i });
    } else if (v !== null && typeof v === 'object') {
      const keys = Object.keys(v);
      bytes += 1 + Math.max(1, keys.length);
      for (let i = keys.length - 1; i >= 0; i--) {
        bytes += keys[i].length + 3;
        stack.push({ value: (v as Record<string, unknown>)[keys[i]], parent: f, key: keys[i] });
      }
    } else {
      bytes += scalarBytes(v);
    }
    if (nodes > limits.maxNodes) {
      const message = `the specification expands to more than ${limits.maxNodes} values (aliases counted at every use), the limit`;
      return { limit: 'maxNodes', found: nodes, max: limits.maxNodes, path: framePath(f), message };
    }
    if (bytes > limits.maxBytes) {
      const message = `the specification expands to more than ${limits.maxBytes} bytes of JSON (aliases counted at every use), the limit`;
      return { limit: 'maxBytes', found: bytes, max: limits.maxBytes, path: framePath(f), message };
    }
  }
  return null;
}

/** Commas plus line breaks: about the most entries YAML text can hold (a line may hold a key and its value). */
function yamlItems(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 44 || c === 10) n++;
  }
  return n;
}

function bounded(value: unknown, limits: SpecSizeLimits): unknown {
  const over = measureSpec(value, limits);
  if (over) throw new SpecTooLargeError(over);
  return value;
}

/**
 * Parses specification text. Throws SpecError (path "", the message names the
 * line and column) on a syntax error, and SpecTooLargeError when the parsed value
 * (aliases expanded) is over `limits`. The result is not otherwise checked: pass it
 * to compileSweep or validateSweep.
 */
export function parseSpecText(text: string, format: 'json' | 'yaml', limits: SpecSizeLimits = DEFAULT_SIZE_LIMITS): unknown {
  if (typeof text !== 'string') fail(`the specification text must be a string, got ${typeof text}`);
  if (format === 'json') {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      // V8's messages do not always carry a position (and may quote the whole text): find it ourselves.
      const found = findJsonError(text);
      const msg = e instanceof Error ? e.message : String(e);
      const offset = found ? found.offset : text.length;
      const reason = found ? found.reason : msg.slice(0, 200);
      const { line, column } = lineCol(text, offset);
      fail(`JSON syntax error at line ${line}, column ${column}: ${reason}`);
    }
    return bounded(value, limits);
  }
  if (format === 'yaml') {
    const items = yamlItems(text);
    if (items > limits.maxYamlItems) {
      const message =
        `the YAML text has ${items} items (commas and line breaks), more than the limit of ${limits.maxYamlItems} for YAML; ` +
        'send a specification this large as JSON';
      throw new SpecTooLargeError({ limit: 'maxYamlItems', found: items, max: limits.maxYamlItems, path: '', message });
    }
    let doc;
    try {
      doc = parseDocument(text, { uniqueKeys: true });
    } catch (e) {
      fail(`YAML syntax error: ${e instanceof Error ? e.message : String(e)}`);
    }
    const err = doc.errors[0];
    if (err) {
      // The library's message: the reason, "at line L, column C:", then the lines around the
      // error and a caret under the column. The context is kept, indented under the first
      // line (so the caret still points at the column), as the CLI shows it.
      const [first, ...context] = err.message.replace(/\s+$/, '').split('\n');
      const reason = first.replace(/\s*at line \d+, column \d+:?\s*$/, '');
      const pos = err.linePos?.[0] ?? lineCol(text, err.pos[0]);
      const line = 'line' in pos ? pos.line : 1;
      const column = 'col' in pos ? pos.col : (pos as { column: number }).column;
      const shown = context.filter((l) => l.trim() !== '').map((l) => `\n    ${l}`).join('');
      fail(`YAML syntax error at line ${line}, column ${column}: ${reason}${shown}`);
    }
    let aliases = 0;
    visit(doc, { Alias: () => { aliases++; } });
    const tooManyAliases = (found: number, nested: string) => new SpecTooLargeError({
      limit: 'maxYamlAliases', found, max: MAX_YAML_ALIASES, path: '',
      message: `the YAML text uses aliases ${found} times${nested}, more than the limit of ${MAX_YAML_ALIASES}`,
    });
    if (aliases > MAX_YAML_ALIASES) throw tooManyAliases(aliases, '');
    let value: unknown;
    try {
      // maxAliasCount also weighs nested aliases (an alias of a list of aliases...); one
      // large list reused by a few aliases passes it, which the size bound below catches.
      // Aliases come back as shared references, so nothing is copied before that bound.
      value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
    } catch (e) {
      if (e instanceof ReferenceError && /Excessive alias count/.test(e.message)) throw tooManyAliases(aliases, ' (nested, each use of an alias inside an aliased value counted at every use of the outer one)');
      fail(`YAML error: ${e instanceof Error ? e.message : String(e)}`);
    }
    return bounded(value, limits);
  }
  fail(`unknown specification format ${JSON.stringify(format)} (expected "json" or "yaml")`);
}
