import { describe, expect, it } from 'vitest';
import { parseXml } from './xml.ts';

describe('the test XML checker', () => {
  it('accepts well-formed documents and decodes entities', () => {
    const root = parseXml('<?xml version="1.0"?><a x="1 &amp; 2" y=\'&lt;&#x41;&#66;\'><b/>t&quot;<!-- c --><c>z</c></a>\n');
    expect(root.attrs).toEqual({ x: '1 & 2', y: '<AB' });
    expect(root.children.map((c) => c.name)).toEqual(['b', 'c']);
    expect(root.text).toBe('t"');
  });
  it.each([
    ['<a><b></a></b>', 'mismatched'],
    ['<a>', 'unclosed'],
    ['<a x=1/>', 'unquoted'],
    ['<a x="1" x="2"/>', 'duplicate'],
    ['<a x="1"y="2"/>', 'no space'],
    ['<a>&foo;</a>', 'unknown entity'],
    ['<a>&amp</a>', 'unterminated entity'],
    ['<a>1 < 2</a>', 'raw <'],
    ['<a x="<"/>', 'raw < in attribute'],
    ['<a/><b/>', 'two roots'],
    ['<a>&#0;</a>', 'bad char ref'],
    ['<a>\u0001</a>', 'control char'],
    ['text<a/>', 'text before root'],
  ])('rejects %s (%s)', (src) => {
    expect(() => parseXml(src)).toThrow();
  });
});
