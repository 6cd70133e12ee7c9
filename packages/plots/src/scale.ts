// Axis scales and tick generation.

import { displayMinus, formatNumber, formatTicks } from './format.ts';

const clean = (v: number): number => {
  const r = Number(v.toPrecision(12));
  return r === 0 ? 0 : r;
};

/** A "nice" number (1, 2, 5 or 10 times a power of ten) close to x > 0 (after Heckbert, Graphics Gems). */
export function niceNum(x: number, round: boolean): number {
  if (!(x > 0) || !Number.isFinite(x)) return 1;
  const exponent = Math.floor(Math.log10(x));
  const pow = Number(`1e${exponent}`);
  const f = x / pow;
  let nf: number;
  if (round) nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  else nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  return clean(nf * pow);
}

/**
 * About `count` evenly spaced ticks whose step is 1, 2 or 5 times a power of ten and which
 * cover [min, max]: the first tick is <= min, the last >= max. Degenerate ranges are widened
 * (a single value v gives a range around v; 0 gives [0, 1]); non-finite input gives [0, 1] ticks.
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  let lo = Math.min(min, max);
  let hi = Math.max(min, max);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    lo = Number.isFinite(lo) ? lo : Number.isFinite(hi) ? hi : 0;
    hi = lo;
  }
  if (hi - lo <= Math.abs(hi) * 1e-12 || hi === lo) {
    if (lo === 0) {
      hi = 1;
    } else {
      const pad = Math.abs(lo) * 0.1;
      lo -= pad;
      hi += pad;
    }
  }
  const n = Math.max(2, Math.round(count) || 5);
  const step = niceNum((hi - lo) / (n - 1), true);
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  const ticks: number[] = [];
  // round away floating-point noise (0.30000000000000004) to well below the step
  const decimals = -Math.floor(Math.log10(step)) + 3;
  const tidy = (v: number): number => {
    const r = decimals >= 0 && decimals <= 20 ? Number(v.toFixed(decimals)) : decimals < 0 ? clean(v) : v;
    return r === 0 ? 0 : r;
  };
  for (let i = first; i <= last; i++) ticks.push(tidy(i * step));
  if (ticks.length === 1) ticks.push(tidy((last + 1) * step));
  return ticks;
}

/**
 * Decade ticks (powers of ten) covering [min, max], both > 0. When the range spans many decades
 * only every k-th decade is returned (at most about `maxTicks` ticks).
 */
export function logTicks(min: number, max: number, maxTicks = 8): number[] {
  let lo = Math.min(min, max);
  let hi = Math.max(min, max);
  if (!(lo > 0) || !Number.isFinite(lo)) lo = hi > 0 && Number.isFinite(hi) ? hi : 1;
  if (!(hi > 0) || !Number.isFinite(hi)) hi = lo;
  let e0 = Math.floor(Math.log10(lo) + 1e-9);
  let e1 = Math.ceil(Math.log10(hi) - 1e-9);
  if (e1 <= e0) {
    e0 -= 1;
    e1 += 1;
  }
  const stride = Math.max(1, Math.ceil((e1 - e0) / Math.max(1, Math.floor(maxTicks) - 1)));
  e0 = Math.floor(e0 / stride) * stride;
  e1 = Math.ceil(e1 / stride) * stride;
  const ticks: number[] = [];
  for (let e = e0; e <= e1; e += stride) ticks.push(Number(`1e${e}`));
  return ticks;
}

export interface Scale {
  kind: 'linear' | 'log';
  domain: [number, number];
  /** pixel range: [pixel of domain[0], pixel of domain[1]] */
  range: [number, number];
  ticks: number[];
  minorTicks: number[];
  map(v: number): number;
  /** A value that map() can place (finite, and > 0 on a log scale). */
  accepts(v: number | null | undefined): v is number;
}

/** Min and max of a list without spreading it into Math.min/max (which throws past ~100k arguments). */
export function extent(values: readonly number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** A linear scale over nice ticks covering the finite values (at least one needed, else [0, 1]). */
export function linearScale(values: number[], range: [number, number], count = 5): Scale {
  const finite = values.filter((v) => Number.isFinite(v));
  const [min, max] = finite.length ? extent(finite) : [0, 1];
  const ticks = niceTicks(min, max, count);
  const d0 = ticks[0];
  const d1 = ticks[ticks.length - 1];
  const [r0, r1] = range;
  return {
    kind: 'linear',
    domain: [d0, d1],
    range,
    ticks,
    minorTicks: [],
    map: (v) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0),
    accepts: (v): v is number => typeof v === 'number' && Number.isFinite(v),
  };
}

/** A log10 scale over whole decades covering the positive finite values (none: [0.1, 10]). */
export function logScale(values: number[], range: [number, number], maxTicks = 8): Scale {
  const positive = values.filter((v) => Number.isFinite(v) && v > 0);
  const [min, max] = positive.length ? extent(positive) : [1, 1];
  const ticks = logTicks(min, max, maxTicks);
  const d0 = ticks[0];
  const d1 = ticks[ticks.length - 1];
  const l0 = Math.log10(d0);
  const l1 = Math.log10(d1);
  const [r0, r1] = range;
  const minorTicks: number[] = [];
  if (ticks.length > 1 && l1 - l0 <= 6 && ticks[1] / ticks[0] === 10) {
    for (let e = Math.round(l0); e < Math.round(l1); e++) {
      for (let k = 2; k <= 9; k++) minorTicks.push(Number(`${k}e${e}`));
    }
  }
  return {
    kind: 'log',
    domain: [d0, d1],
    range,
    ticks,
    minorTicks,
    map: (v) => r0 + ((Math.log10(v) - l0) / (l1 - l0)) * (r1 - r0),
    accepts: (v): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0,
  };
}

/** A tick label: plain text, or a power of ten (base and superscript exponent). */
export type TickLabel = { text: string } | { base: string; exponent: string };

/** Labels for the ticks of a scale. Log axes use 10^k unless all decades are between 0.001 and 10000. */
export function tickLabels(scale: Scale): TickLabel[] {
  if (scale.kind === 'linear') return formatTicks(scale.ticks).map((text) => ({ text }));
  const exps = scale.ticks.map((t) => Math.round(Math.log10(t)));
  const plain = exps.every((e) => e >= -3 && e <= 4);
  return exps.map((e, i) =>
    plain ? { text: formatNumber(scale.ticks[i]) } : { base: '10', exponent: displayMinus(String(e)) },
  );
}
