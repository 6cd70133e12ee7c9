// Low-level SVG writing helpers.

import { asciiOnly, escapeXml, textWidth, truncate } from './format.ts';

export const FONT_FAMILY = "'DejaVu Sans', 'Helvetica Neue', Helvetica, Arial, sans-serif";
export const AXIS_COLOR = '#333333';
export const GRID_COLOR = '#e6e6e6';
export const MUTED_COLOR = '#666666';

export const DEFAULT_WIDTH = 720;
export const DEFAULT_HEIGHT = 480;

/** A coordinate rounded to 0.01 px. */
export function n(v: number): string {
  const r = Math.round(v * 100) / 100;
  return String(r === 0 ? 0 : r);
}

/** A requested dimension, or the default when missing or unusable; at least `min`. */
export function dim(value: number | undefined, fallback: number, min = 160): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return fallback;
  return Math.max(min, Math.round(value));
}

export type AttrValue = string | number | boolean | null | undefined;

/** ` name="value"` pairs, escaped; null, undefined and false are left out. */
export function attrs(a: Record<string, AttrValue>): string {
  let out = '';
  for (const [k, v] of Object.entries(a)) {
    if (v === null || v === undefined || v === false) continue;
    const s = typeof v === 'number' ? n(v) : v === true ? k : v;
    out += ` ${k}="${escapeXml(s)}"`;
  }
  return out;
}

export function el(name: string, a: Record<string, AttrValue>, content?: string): string {
  return content === undefined ? `<${name}${attrs(a)}/>` : `<${name}${attrs(a)}>${content}</${name}>`;
}

/** A <text> element with escaped content. */
export function text(x: number, y: number, s: string, a: Record<string, AttrValue> = {}): string {
  return el('text', { x, y, ...a }, escapeXml(s));
}

/** A title line, shrunk and then shortened to fit `maxWidth`; the full text goes into a tooltip when shortened. */
export function fittedText(
  x: number,
  y: number,
  s: string,
  maxWidth: number,
  fontSize: number,
  a: Record<string, AttrValue> = {},
  minFontSize = Math.min(fontSize, 11),
): string {
  // bold glyphs are about 10% wider
  const room = a['font-weight'] === 'bold' ? maxWidth / 1.1 : maxWidth;
  let size = fontSize;
  while (size > minFontSize && textWidth(s, size) > room) size -= 0.5;
  const shown = truncate(s, room, size);
  const tip = shown === s ? '' : `<title>${escapeXml(s)}</title>`;
  return el('text', { x, y, 'font-size': size, ...a }, escapeXml(shown) + tip);
}

/** Small stable hash, used to make element ids unlikely to clash when several plots share one HTML page. */
export function idPrefix(...parts: unknown[]): string {
  let h = 0x811c9dc5;
  const s = JSON.stringify(parts);
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `plt${h.toString(16).padStart(8, '0')}`;
}

/** The complete, self-contained SVG document (pure ASCII, with xmlns, viewBox, width, height and a <title>). */
export function svgDocument(o: { width: number; height: number; title: string; body: string; defs?: string; desc?: string }): string {
  const head =
    `<svg${attrs({
      xmlns: 'http://www.w3.org/2000/svg',
      'xmlns:xlink': 'http://www.w3.org/1999/xlink',
      version: '1.1',
      width: o.width,
      height: o.height,
      viewBox: `0 0 ${o.width} ${o.height}`,
      role: 'img',
      'font-family': FONT_FAMILY,
      'font-size': 12,
    })}>` +
    `<title>${escapeXml(o.title)}</title>` +
    (o.desc ? `<desc>${escapeXml(o.desc)}</desc>` : '') +
    (o.defs ? `<defs>${o.defs}</defs>` : '') +
    el('rect', { x: 0, y: 0, width: o.width, height: o.height, fill: '#ffffff' });
  return asciiOnly(`${head}${o.body}</svg>\n`);
}

/** A valid document that only shows the title and a message (default "no data"). */
export function emptySvg(width: number, height: number, title: string, message = 'no data'): string {
  const body =
    fittedText(width / 2, 28, title, width - 24, 16, { 'text-anchor': 'middle', 'font-weight': 'bold', fill: AXIS_COLOR }) +
    el('rect', { x: 12, y: 44, width: width - 24, height: height - 56, fill: 'none', stroke: GRID_COLOR }) +
    text(width / 2, 44 + (height - 56) / 2, message, {
      'text-anchor': 'middle',
      'dominant-baseline': 'middle',
      'font-size': 16,
      fill: MUTED_COLOR,
      class: 'no-data',
    });
  return svgDocument({ width, height, title, body });
}

export type MarkerShape = 'circle' | 'square' | 'triangle' | 'diamond' | 'triangle-down';
export const MARKERS: readonly MarkerShape[] = ['circle', 'square', 'triangle', 'diamond', 'triangle-down'];

/** A marker centred on (x, y) of about `size` px. */
export function marker(shape: MarkerShape, x: number, y: number, size: number, fill: string, extra = '', tooltip?: string): string {
  const r = size / 2;
  const style = { fill, stroke: '#ffffff', 'stroke-width': 0.8 };
  const tip = tooltip === undefined ? undefined : `<title>${escapeXml(tooltip)}</title>`;
  let name: string;
  let a: Record<string, AttrValue>;
  switch (shape) {
    case 'square':
      name = 'rect';
      a = { x: x - r * 0.85, y: y - r * 0.85, width: r * 1.7, height: r * 1.7 };
      break;
    case 'triangle':
      name = 'path';
      a = { d: `M${n(x)},${n(y - r * 1.1)}L${n(x + r)},${n(y + r * 0.8)}L${n(x - r)},${n(y + r * 0.8)}Z` };
      break;
    case 'triangle-down':
      name = 'path';
      a = { d: `M${n(x)},${n(y + r * 1.1)}L${n(x + r)},${n(y - r * 0.8)}L${n(x - r)},${n(y - r * 0.8)}Z` };
      break;
    case 'diamond':
      name = 'path';
      a = { d: `M${n(x)},${n(y - r * 1.2)}L${n(x + r)},${n(y)}L${n(x)},${n(y + r * 1.2)}L${n(x - r)},${n(y)}Z` };
      break;
    default:
      name = 'circle';
      a = { cx: x, cy: y, r };
  }
  const open = `<${name}${attrs({ ...a, ...style })}${extra}`;
  return tip ? `${open}>${tip}</${name}>` : `${open}/>`;
}
