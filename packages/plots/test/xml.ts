// A tiny strict XML well-formedness checker and tree builder, for tests (no parser is installed).
// Checks: one root element, balanced and properly nested tags, names, quoted and unique attributes,
// no raw '<' in attribute values, valid entity and character references, no text outside the root.

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** text content directly inside this element, entities decoded */
  text: string;
  parent?: XmlElement;
}

const NAME_START = /[A-Za-z_:]/;
const NAME_CHAR = /[A-Za-z0-9_:.-]/;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function validChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

export function parseXml(src: string): XmlElement {
  let i = 0;
  const fail = (msg: string): never => {
    throw new Error(`XML error at ${i}: ${msg} near ${JSON.stringify(src.slice(Math.max(0, i - 30), i + 30))}`);
  };
  const decode = (raw: string, inAttr: boolean): string => {
    let out = '';
    for (let k = 0; k < raw.length; k++) {
      const c = raw[k];
      const cp = raw.codePointAt(k)!;
      if (!validChar(cp)) fail(`invalid character U+${cp.toString(16)}`);
      if (cp > 0xffff) {
        out += String.fromCodePoint(cp);
        k++;
        continue;
      }
      if (c === '<') fail('raw < in ' + (inAttr ? 'attribute' : 'text'));
      if (c === '&') {
        const end = raw.indexOf(';', k);
        if (end < 0) fail('unterminated entity');
        const ent = raw.slice(k + 1, end);
        if (/^#x[0-9a-fA-F]+$/.test(ent) || /^#[0-9]+$/.test(ent)) {
          const v = ent[1] === 'x' ? parseInt(ent.slice(2), 16) : parseInt(ent.slice(1), 10);
          if (!validChar(v)) fail(`invalid character reference &${ent};`);
          out += String.fromCodePoint(v);
        } else if (ent in ENTITIES) {
          out += ENTITIES[ent];
        } else {
          fail(`unknown entity &${ent};`);
        }
        k = end;
        continue;
      }
      out += c;
    }
    return out;
  };
  const readName = (): string => {
    const start = i;
    if (!NAME_START.test(src[i] ?? '')) fail('bad name start');
    while (i < src.length && NAME_CHAR.test(src[i])) i++;
    return src.slice(start, i);
  };
  const skipWs = (): void => {
    while (i < src.length && /\s/.test(src[i])) i++;
  };
  const skipMisc = (): void => {
    for (;;) {
      skipWs();
      if (src.startsWith('<?xml', i)) {
        const end = src.indexOf('?>', i);
        if (end < 0) fail('unterminated declaration');
        i = end + 2;
      } else if (src.startsWith('<!--', i)) {
        const end = src.indexOf('-->', i + 4);
        if (end < 0) fail('unterminated comment');
        if (src.slice(i + 4, end).includes('--')) fail('-- inside comment');
        i = end + 3;
      } else return;
    }
  };

  skipMisc();
  if (src[i] !== '<') fail('expected root element');
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  while (i < src.length) {
    if (stack.length === 0 && root) break;
    if (src.startsWith('<!--', i)) {
      const end = src.indexOf('-->', i + 4);
      if (end < 0) fail('unterminated comment');
      i = end + 3;
    } else if (src.startsWith('<![CDATA[', i)) {
      const end = src.indexOf(']]>', i);
      if (end < 0) fail('unterminated CDATA');
      stack[stack.length - 1].text += src.slice(i + 9, end);
      i = end + 3;
    } else if (src.startsWith('</', i)) {
      i += 2;
      const name = readName();
      skipWs();
      if (src[i] !== '>') fail('expected > in end tag');
      i++;
      const open = stack.pop();
      if (!open) fail(`unexpected end tag </${name}>`);
      if (open!.name !== name) fail(`end tag </${name}> does not match <${open!.name}>`);
    } else if (src[i] === '<') {
      i++;
      const el: XmlElement = { name: readName(), attrs: {}, children: [], text: '' };
      for (;;) {
        const hadWs = /\s/.test(src[i] ?? '');
        skipWs();
        if (src[i] === '/' || src[i] === '>') break;
        if (!hadWs) fail('attributes must be separated by white space');
        const an = readName();
        skipWs();
        if (src[i] !== '=') fail(`attribute ${an} without =`);
        i++;
        skipWs();
        const q = src[i];
        if (q !== '"' && q !== "'") fail(`attribute ${an} not quoted`);
        const end = src.indexOf(q, i + 1);
        if (end < 0) fail('unterminated attribute value');
        if (an in el.attrs) fail(`duplicate attribute ${an}`);
        el.attrs[an] = decode(src.slice(i + 1, end), true);
        i = end + 1;
      }
      const parent = stack[stack.length - 1];
      if (parent) {
        el.parent = parent;
        parent.children.push(el);
      } else if (root) fail('second root element');
      else root = el;
      if (src[i] === '/') {
        if (src[i + 1] !== '>') fail('expected />');
        i += 2;
      } else {
        i++;
        stack.push(el);
      }
    } else {
      const end = src.indexOf('<', i);
      const raw = src.slice(i, end < 0 ? src.length : end);
      if (raw.includes(']]>')) fail(']]> in text');
      stack[stack.length - 1].text += decode(raw, false);
      i = end < 0 ? src.length : end;
    }
  }
  if (stack.length) fail(`unclosed <${stack[stack.length - 1].name}>`);
  skipMisc();
  if (i < src.length) fail('content after the root element');
  return root!;
}

/** All descendants (and the element itself) matching a predicate, in document order. */
export function findAll(root: XmlElement, pred: (e: XmlElement) => boolean): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (e: XmlElement): void => {
    if (pred(e)) out.push(e);
    e.children.forEach(walk);
  };
  walk(root);
  return out;
}

export const hasClass = (e: XmlElement, c: string): boolean => (e.attrs.class ?? '').split(/\s+/).includes(c);

/** All text inside an element, descendants included. */
export function textContent(e: XmlElement): string {
  return e.text + e.children.map(textContent).join('');
}
