// Text helpers: XML escaping, compact number formatting, text width estimates.

// Characters XML 1.0 forbids even as character references, and lone UTF-16 surrogates.
const INVALID_XML =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

const NEEDS_ESCAPE = /[&<>"'\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF\uD800-\uDFFF]/;

/** Escapes a string for XML text or a double- or single-quoted attribute value; drops characters XML cannot carry. */
export function escapeXml(value: unknown): string {
  const s = String(value);
  // Most strings (numbers, ids, colours) need nothing: one test instead of six replaces.
  if (!NEEDS_ESCAPE.test(s)) return s;
  return s
    .replace(INVALID_XML, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** Replaces every non-ASCII character by a numeric character reference, so the document is pure ASCII. */
export function asciiOnly(xml: string): string {
  return xml.replace(/[^\x00-\x7F]/gu, (c) => `&#x${c.codePointAt(0)!.toString(16).toUpperCase()};`);
}

/**
 * Compact number: at most `sig` significant digits (default 4), trailing zeros dropped,
 * exponent notation ("1.5e-5", "2.35e7") below 1e-3, from 1e6 on, and from 1e4 on when digits were
 * dropped (12345 -> "1.235e4", but 10000 -> "10000"). ASCII only.
 */
export function formatNumber(value: number | null | undefined, sig = 4): string {
  if (value === null || value === undefined) return 'n/a';
  if (typeof value !== 'number') return String(value);
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
  if (value === 0) return '0';
  const digits = Math.min(21, Math.max(1, Math.round(sig)));
  const rounded = value.toPrecision(digits);
  const r = Number(rounded);
  if (!Number.isFinite(r)) {
    // rounding overflowed (|value| near Number.MAX_VALUE): keep the rounded digits as text
    const [mantissa, exponent] = value.toExponential(digits - 1).split('e');
    return `${mantissa.replace(/\.?0+$/, '')}e${Number(exponent)}`;
  }
  const a = Math.abs(r);
  // exponent form for tiny and huge numbers, and for large ones that were rounded (524288 -> 5.243e5, not 524300)
  if (a >= 1e6 || a < 1e-3 || (a >= 1e4 && r !== value)) {
    const [mantissa, exponent] = r.toExponential().split('e');
    return `${mantissa}e${Number(exponent)}`;
  }
  return String(r);
}

/** A category value as shown on an axis: numbers compactly, strings as they are. */
export function formatCategory(value: number | string): string {
  return typeof value === 'number' ? formatNumber(value) : String(value);
}

/** Typographic minus for display labels. */
export function displayMinus(s: string): string {
  return s.replace(/^-/, '\u2212').replace(/e-/, 'e\u2212');
}

/**
 * Tick labels of a linear axis: the same number of decimals on every tick (from the step),
 * exponent notation for very large or very small magnitudes.
 */
export function formatTicks(ticks: number[]): string[] {
  if (ticks.length === 0) return [];
  const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : Math.abs(ticks[0]) || 1;
  const maxAbs = Math.max(...ticks.map((t) => Math.abs(t)));
  if (maxAbs >= 1e6 || (maxAbs > 0 && maxAbs < 1e-3) || step < 1e-6) {
    const sig = Math.max(1, Math.min(15, Math.floor(Math.log10(maxAbs || 1) + 1e-9) - Math.floor(Math.log10(step) + 1e-9) + 1));
    return ticks.map((t) => displayMinus(formatNumber(t, Math.max(2, sig))));
  }
  const decimals = Math.max(0, Math.min(12, -Math.floor(Math.log10(step) + 1e-9)));
  return ticks.map((t) => {
    const s = (Math.abs(t) < step * 1e-9 ? 0 : t).toFixed(decimals);
    return displayMinus(s);
  });
}

/** Rough width in px of a string in the sans-serif fonts used (about 0.6 em per character). */
export function textWidth(s: string, fontSize: number): number {
  let w = 0;
  for (const ch of s) {
    if (/[il.,:;|'!1 ()[\]]/.test(ch)) w += 0.36;
    else if (/[mwMW@%]/.test(ch)) w += 0.9;
    else if (/[A-Z]/.test(ch)) w += 0.7;
    else w += 0.6;
  }
  return w * fontSize;
}

/** Shortens `s` with an ellipsis so that it fits in `maxWidth` px. */
export function truncate(s: string, maxWidth: number, fontSize: number): string {
  if (textWidth(s, fontSize) <= maxWidth) return s;
  const chars = Array.from(s);
  while (chars.length > 1 && textWidth(chars.join('') + '\u2026', fontSize) > maxWidth) chars.pop();
  return chars.join('') + '\u2026';
}
