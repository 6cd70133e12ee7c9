import { expect } from 'vitest';
import { findAll, parseXml, textContent, type XmlElement } from './xml.ts';

/** Parses an SVG, checks it is a self-contained document, returns its root. */
export function checkSvg(svg: string): XmlElement {
  const root = parseXml(svg);
  expect(root.name).toBe('svg');
  expect(root.attrs.xmlns).toBe('http://www.w3.org/2000/svg');
  expect(Number(root.attrs.width)).toBeGreaterThan(0);
  expect(Number(root.attrs.height)).toBeGreaterThan(0);
  expect(root.attrs.viewBox).toBe(`0 0 ${root.attrs.width} ${root.attrs.height}`);
  expect(root.children[0].name).toBe('title');
  // self-contained: pure ASCII, no scripts, styles, external images, fonts or foreign content
  expect(/^[\x00-\x7F]*$/.test(svg)).toBe(true);
  const names = new Set(findAll(root, () => true).map((e) => e.name));
  for (const bad of ['script', 'style', 'image', 'foreignObject', 'use', 'font-face']) expect(names.has(bad)).toBe(false);
  for (const e of findAll(root, () => true)) {
    for (const [k, v] of Object.entries(e.attrs)) {
      expect(k.startsWith('on')).toBe(false);
      if (v.includes('url(')) expect(v).toMatch(/^url\(#[A-Za-z0-9_-]+\)$/);
    }
  }
  // every local reference points to a defined id
  const ids = new Set(findAll(root, (e) => 'id' in e.attrs).map((e) => e.attrs.id));
  for (const e of findAll(root, () => true)) {
    for (const v of Object.values(e.attrs)) {
      const m = /^url\(#(.+)\)$/.exec(v);
      if (m) expect(ids.has(m[1])).toBe(true);
    }
  }
  // numbers in geometry attributes are finite
  for (const e of findAll(root, () => true)) {
    for (const k of ['x', 'y', 'width', 'height', 'cx', 'cy', 'r', 'x1', 'x2', 'y1', 'y2']) {
      if (k in e.attrs && !/%$/.test(e.attrs[k])) expect(Number.isFinite(Number(e.attrs[k])), `${e.name} ${k}=${e.attrs[k]}`).toBe(true);
    }
    if (e.attrs.d !== undefined) expect(e.attrs.d).not.toMatch(/NaN|Infinity|undefined/);
    if (e.attrs.transform !== undefined) expect(e.attrs.transform).not.toMatch(/NaN|Infinity|undefined/);
  }
  return root;
}

export const allText = (root: XmlElement): string => textContent(root);
