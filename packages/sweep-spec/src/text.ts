// Parsing specification text (JSON or YAML) into a value; compileSweep checks it.

import { parseDocument } from 'yaml';
import { SpecError } from './errors.ts';

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

function fail(message: string): never {
  throw new SpecError([{ path: '', message }], message);
}

/**
 * Parses specification text. Throws SpecError (path "", the message names the
 * line and column) on a syntax error. The result is not checked: pass it to
 * compileSweep or validateSweep.
 */
export function parseSpecText(text: string, format: 'json' | 'yaml'): unknown {
  if (typeof text !== 'string') fail(`the specification text must be a string, got ${typeof text}`);
  if (format === 'json') {
    try {
      return JSON.parse(text);
    } catch (e) {
      // V8's messages do not always carry a position (and may quote the whole text): find it ourselves.
      const found = findJsonError(text);
      const msg = e instanceof Error ? e.message : String(e);
      const offset = found ? found.offset : text.length;
      const reason = found ? found.reason : msg.slice(0, 200);
      const { line, column } = lineCol(text, offset);
      fail(`JSON syntax error at line ${line}, column ${column}: ${reason}`);
    }
  }
  if (format === 'yaml') {
    let doc;
    try {
      doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
    } catch (e) {
      fail(`YAML syntax error: ${e instanceof Error ? e.message : String(e)}`);
    }
    const err = doc.errors[0];
    if (err) {
      const reason = err.message.split('\n')[0].replace(/\s*at line \d+, column \d+:?\s*$/, '');
      const pos = err.linePos?.[0] ?? lineCol(text, err.pos[0]);
      const line = 'line' in pos ? pos.line : 1;
      const column = 'col' in pos ? pos.col : (pos as { column: number }).column;
      fail(`YAML syntax error at line ${line}, column ${column}: ${reason}`);
    }
    try {
      return doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      fail(`YAML error: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  fail(`unknown specification format ${JSON.stringify(format)} (expected "json" or "yaml")`);
}
