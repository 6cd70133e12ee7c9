// Derive expressions: a small tokenizer and a Pratt parser producing closures.
// No eval, no Function, no `with`; identifiers are resolved at parse time
// through a Map, so names such as `constructor` or `__proto__` never reach a
// JavaScript object.

/** A value an expression produces: a number or a (nested) array of numbers. */
export type ExprValue = number | ExprValue[];

/** A compiled expression: reads axis variables from `vars` by slot. */
export type Evaluator = (vars: readonly unknown[]) => ExprValue;

export interface CompiledExpr {
  evaluate: Evaluator;
  /** Slots of the variables the expression reads. */
  slots: Set<number>;
}

export interface ExprScope {
  /** Slot of an axis variable, or undefined. */
  lookup(name: string): number | undefined;
  /** True when the variable only takes numbers (required in expressions). */
  isNumeric(slot: number): boolean;
  /** Names, for error messages. */
  names(): string[];
}

/** A syntax or name error; `pos` is the 0-based offset in the expression. */
export class ExprError extends Error {
  readonly pos: number;
  readonly reason: string;

  constructor(reason: string, pos: number) {
    super(`${reason} at position ${pos + 1}`);
    this.name = 'ExprError';
    this.reason = reason;
    this.pos = pos;
  }
}

export const MAX_EXPRESSION_LENGTH = 2000;
const MAX_DEPTH = 100;

const CONSTANTS = new Map<string, number>([
  ['pi', Math.PI],
  ['e', Math.E],
]);

type Fn = (args: number[]) => number;
interface FnDef { min: number; max: number; fn: Fn }

const FUNCTIONS = new Map<string, FnDef>([
  ['sqrt', { min: 1, max: 1, fn: (a) => Math.sqrt(a[0]) }],
  ['exp', { min: 1, max: 1, fn: (a) => Math.exp(a[0]) }],
  ['log', { min: 1, max: 1, fn: (a) => Math.log(a[0]) }],
  ['log10', { min: 1, max: 1, fn: (a) => Math.log10(a[0]) }],
  ['abs', { min: 1, max: 1, fn: (a) => Math.abs(a[0]) }],
  ['min', { min: 1, max: Infinity, fn: (a) => Math.min(...a) }],
  ['max', { min: 1, max: Infinity, fn: (a) => Math.max(...a) }],
  ['pow', { min: 2, max: 2, fn: (a) => Math.pow(a[0], a[1]) }],
  ['floor', { min: 1, max: 1, fn: (a) => Math.floor(a[0]) }],
  ['ceil', { min: 1, max: 1, fn: (a) => Math.ceil(a[0]) }],
  ['round', { min: 1, max: 1, fn: (a) => Math.round(a[0]) }],
  ['sin', { min: 1, max: 1, fn: (a) => Math.sin(a[0]) }],
  ['cos', { min: 1, max: 1, fn: (a) => Math.cos(a[0]) }],
  ['tanh', { min: 1, max: 1, fn: (a) => Math.tanh(a[0]) }],
]);

export const CONSTANT_NAMES: readonly string[] = [...CONSTANTS.keys()];
export const FUNCTION_NAMES: readonly string[] = [...FUNCTIONS.keys()];

// ---------------------------------------------------------------- tokenizer

type TokKind = 'num' | 'ident' | 'op' | 'end';
interface Token { kind: TokKind; text: string; pos: number; value?: number }

const NUMBER_RE = /(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;
const IDENT_RE = /[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*/y;

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') { i++; continue; }
    NUMBER_RE.lastIndex = i;
    let m = NUMBER_RE.exec(src);
    if (m) {
      out.push({ kind: 'num', text: m[0], pos: i, value: Number(m[0]) });
      i += m[0].length;
      continue;
    }
    IDENT_RE.lastIndex = i;
    m = IDENT_RE.exec(src);
    if (m) {
      out.push({ kind: 'ident', text: m[0], pos: i });
      i += m[0].length;
      continue;
    }
    if (c === '*' && src[i + 1] === '*') {
      out.push({ kind: 'op', text: '^', pos: i });
      i += 2;
      continue;
    }
    if ('+-*/^()[],'.includes(c)) {
      out.push({ kind: 'op', text: c, pos: i });
      i++;
      continue;
    }
    throw new ExprError(`unexpected character ${JSON.stringify(c)}`, i);
  }
  out.push({ kind: 'end', text: '', pos: src.length });
  return out;
}

// ---------------------------------------------------------------- parser

/** A parsed node: its closure and whether it yields a number or an array. */
interface Compiled { ev: Evaluator; kind: 'number' | 'array'; pos: number }

// Binding powers: + - (10), * / (20), unary +/- (30), ^ (41 left, 40 right: right-associative).
// -2^2 = -(2^2) = -4; 2^-1 = 0.5; 2^3^2 = 2^(3^2) = 512.
const INFIX: Record<string, [number, number]> = {
  '+': [10, 11],
  '-': [10, 11],
  '*': [20, 21],
  '/': [20, 21],
  '^': [41, 40],
};
const UNARY_BP = 30;

class Parser {
  private toks: Token[];
  private k = 0;
  private depth = 0;
  readonly slots = new Set<number>();

  constructor(src: string, private scope: ExprScope) {
    this.toks = tokenize(src);
  }

  parseAll(): Compiled {
    if (this.peek().kind === 'end') throw new ExprError('empty expression', 0);
    const node = this.expr(0);
    const t = this.peek();
    if (t.kind !== 'end') throw new ExprError(`unexpected ${describe(t)}`, t.pos);
    return node;
  }

  private peek(): Token { return this.toks[this.k]; }
  private next(): Token { return this.toks[this.k++]; }

  private expect(text: string): Token {
    const t = this.peek();
    if (t.kind !== 'op' || t.text !== text) {
      throw new ExprError(`expected '${text}' but found ${describe(t)}`, t.pos);
    }
    return this.next();
  }

  private expr(minBp: number): Compiled {
    if (++this.depth > MAX_DEPTH) throw new ExprError('expression nested too deeply', this.peek().pos);
    let left = this.prefix();
    for (;;) {
      const t = this.peek();
      if (t.kind !== 'op') break;
      const bp = INFIX[t.text];
      if (!bp || bp[0] < minBp) break;
      this.next();
      const right = this.expr(bp[1]);
      left = binary(t, left, right);
    }
    this.depth--;
    return left;
  }

  private prefix(): Compiled {
    const t = this.next();
    if (t.kind === 'num') {
      const v = t.value as number;
      if (!Number.isFinite(v)) throw new ExprError(`number ${t.text} is out of range`, t.pos);
      return { ev: () => v, kind: 'number', pos: t.pos };
    }
    if (t.kind === 'ident') {
      const nt = this.peek();
      if (nt.kind === 'op' && nt.text === '(') return this.call(t);
      return this.identifier(t);
    }
    if (t.kind === 'op') {
      if (t.text === '-' || t.text === '+') {
        const operand = this.expr(UNARY_BP);
        requireNumber(operand, `unary '${t.text}'`);
        if (t.text === '+') return { ...operand, pos: t.pos };
        const f = operand.ev;
        return { ev: (v) => -(f(v) as number), kind: 'number', pos: t.pos };
      }
      if (t.text === '(') {
        const inner = this.expr(0);
        this.expect(')');
        return { ...inner, pos: t.pos };
      }
      if (t.text === '[') {
        const items: Compiled[] = [];
        if (!(this.peek().kind === 'op' && this.peek().text === ']')) {
          for (;;) {
            items.push(this.expr(0));
            const sep = this.peek();
            if (sep.kind === 'op' && sep.text === ',') { this.next(); continue; }
            break;
          }
        }
        this.expect(']');
        if (items.length === 0) throw new ExprError('empty array', t.pos);
        const fs = items.map((c) => c.ev);
        return { ev: (v) => fs.map((f) => f(v)), kind: 'array', pos: t.pos };
      }
    }
    throw new ExprError(t.kind === 'end' ? 'unexpected end of expression' : `unexpected ${describe(t)}`, t.pos);
  }

  private identifier(t: Token): Compiled {
    const slot = this.scope.lookup(t.text);
    if (slot !== undefined) {
      if (!this.scope.isNumeric(slot)) {
        throw new ExprError(`variable '${t.text}' takes non-numeric values and cannot be used in an expression`, t.pos);
      }
      this.slots.add(slot);
      return { ev: (v) => v[slot] as number, kind: 'number', pos: t.pos };
    }
    const c = CONSTANTS.get(t.text);
    if (c !== undefined) return { ev: () => c, kind: 'number', pos: t.pos };
    if (FUNCTIONS.has(t.text)) {
      throw new ExprError(`'${t.text}' is a function; call it as ${t.text}(...)`, t.pos);
    }
    const names = this.scope.names();
    const known = names.length ? `axis variables: ${names.join(', ')}` : 'no axis variables';
    throw new ExprError(`unknown identifier '${t.text}' (${known}; constants: pi, e)`, t.pos);
  }

  private call(t: Token): Compiled {
    const def = FUNCTIONS.get(t.text);
    if (!def) {
      throw new ExprError(`unknown function '${t.text}' (functions: ${FUNCTION_NAMES.join(', ')})`, t.pos);
    }
    this.expect('(');
    const args: Compiled[] = [];
    if (!(this.peek().kind === 'op' && this.peek().text === ')')) {
      for (;;) {
        const a = this.expr(0);
        requireNumber(a, `argument of ${t.text}()`);
        args.push(a);
        const sep = this.peek();
        if (sep.kind === 'op' && sep.text === ',') { this.next(); continue; }
        break;
      }
    }
    this.expect(')');
    if (args.length < def.min || args.length > def.max) {
      const want = def.max === Infinity ? `at least ${def.min}` : def.min === def.max ? `${def.min}` : `${def.min} to ${def.max}`;
      throw new ExprError(`${t.text}() takes ${want} argument${want === '1' ? '' : 's'}, got ${args.length}`, t.pos);
    }
    const fs = args.map((a) => a.ev);
    const fn = def.fn;
    if (fs.length === 1) {
      const f0 = fs[0];
      return { ev: (v) => fn([f0(v) as number]), kind: 'number', pos: t.pos };
    }
    return { ev: (v) => fn(fs.map((f) => f(v) as number)), kind: 'number', pos: t.pos };
  }
}

function describe(t: Token): string {
  if (t.kind === 'end') return 'the end of the expression';
  return `'${t.text}'`;
}

function requireNumber(c: Compiled, what: string): void {
  if (c.kind !== 'number') throw new ExprError(`an array cannot be the ${what}`, c.pos);
}

function binary(op: Token, l: Compiled, r: Compiled): Compiled {
  requireNumber(l, `operand of '${op.text}'`);
  requireNumber(r, `operand of '${op.text}'`);
  const a = l.ev as (v: readonly unknown[]) => number;
  const b = r.ev as (v: readonly unknown[]) => number;
  let ev: Evaluator;
  switch (op.text) {
    case '+': ev = (v) => a(v) + b(v); break;
    case '-': ev = (v) => a(v) - b(v); break;
    case '*': ev = (v) => a(v) * b(v); break;
    case '/': ev = (v) => a(v) / b(v); break;
    default: ev = (v) => Math.pow(a(v), b(v)); break;
  }
  return { ev, kind: 'number', pos: l.pos };
}

/** Parses and compiles one expression; throws ExprError with the position. */
export function compileExpression(src: string, scope: ExprScope): CompiledExpr {
  if (src.length > MAX_EXPRESSION_LENGTH) {
    throw new ExprError(`expression longer than ${MAX_EXPRESSION_LENGTH} characters`, MAX_EXPRESSION_LENGTH);
  }
  const p = new Parser(src, scope);
  const c = p.parseAll();
  return { evaluate: c.ev, slots: p.slots };
}

/** True when every number in the value is finite. */
export function allFinite(v: ExprValue): boolean {
  if (typeof v === 'number') return Number.isFinite(v);
  for (const x of v) if (!allFinite(x)) return false;
  return true;
}
