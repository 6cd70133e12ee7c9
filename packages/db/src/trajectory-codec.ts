// Trajectories are stored as one bytea per run rather than a row per generation:
// column-packed little-endian Float64 (exact round trip, ~8 bytes a number, no text
// parsing). Layout: [version, rows, m] then the columns t, entropy, effectiveSupport,
// outside, step, (version 2: shareStep,) mass[0..m-1], meanReward[0..m-1],
// varReward[0..m-1], each `rows` long. A null step or shareStep (t = 0) is stored as NaN.
//
// Version 1 rows (contract 1, before shareStep existed) stay readable: they decode with
// shareStep null on every row. Every new row is written as version 2.
import type { MetricsRow } from '@curation/core';

/** A decoded trajectory row: section 4 of the contract, shareStep included (null before contract 2). */
export type StoredMetricsRow = MetricsRow & { shareStep: number | null };

const VERSION = 2;
const HEADER = 3;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Scalar columns before the per-reward ones, by encoding version. */
const SCALARS: Record<number, number> = { 1: 5, 2: 6 };

export function encodeTrajectory(rows: readonly MetricsRow[]): Buffer {
  const n = rows.length;
  const m = n ? rows[0].mass.length : 0;
  const s = SCALARS[VERSION];
  const cols = s + 3 * m;
  const out = new Float64Array(HEADER + cols * n);
  out[0] = VERSION;
  out[1] = n;
  out[2] = m;
  // Column c of row r lives at HEADER + c * n + r. Plain index arithmetic: a helper
  // closure per row cost more than the copying itself (it ran per run of every sweep).
  for (let r = 0; r < n; r++) {
    const row = rows[r];
    // Until every core writes shareStep (contract 2), a row without it stores null.
    const shareStep = (row as { shareStep?: number | null }).shareStep;
    const at = HEADER + r;
    out[at] = row.t;
    out[at + n] = row.entropy;
    out[at + 2 * n] = row.effectiveSupport;
    out[at + 3 * n] = row.outside;
    out[at + 4 * n] = row.step === null ? Number.NaN : row.step;
    out[at + 5 * n] = shareStep === null || shareStep === undefined ? Number.NaN : shareStep;
    for (let i = 0; i < m; i++) {
      out[at + (s + i) * n] = row.mass[i];
      out[at + (s + m + i) * n] = row.meanReward[i];
      out[at + (s + 2 * m + i) * n] = row.varReward[i];
    }
  }
  // Float64Array is host-endian; every platform we deploy on is little-endian, but be explicit.
  const buf = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  if (!LITTLE_ENDIAN) buf.swap64();
  return buf;
}

/** The encoding version of a stored trajectory (1: contract 1, no shareStep; 2: with shareStep). */
export function trajectoryVersion(bytes: Uint8Array): number {
  if (bytes.byteLength < 8) throw new Error('trajectory shorter than its header');
  return Buffer.from(bytes.buffer, bytes.byteOffset, 8).readDoubleLE(0);
}

export function decodeTrajectory(bytes: Uint8Array): StoredMetricsRow[] {
  const copy = Buffer.from(bytes); // aligned copy we may swap in place
  if (!LITTLE_ENDIAN) copy.swap64();
  const f = new Float64Array(copy.buffer, copy.byteOffset, copy.byteLength / 8);
  const version = f[0];
  const s = version === 1 || version === 2 ? SCALARS[version] : undefined;
  if (s === undefined) throw new Error(`unknown trajectory encoding version ${f[0]}`);
  const n = f[1];
  const m = f[2];
  const col = (c: number, r: number) => f[HEADER + c * n + r];
  const rows: StoredMetricsRow[] = [];
  for (let r = 0; r < n; r++) {
    const step = col(4, r);
    const shareStep = version >= 2 ? col(5, r) : Number.NaN;
    rows.push({
      t: col(0, r),
      entropy: col(1, r),
      effectiveSupport: col(2, r),
      mass: Array.from({ length: m }, (_, i) => col(s + i, r)),
      outside: col(3, r),
      meanReward: Array.from({ length: m }, (_, i) => col(s + m + i, r)),
      varReward: Array.from({ length: m }, (_, i) => col(s + 2 * m + i, r)),
      step: Number.isNaN(step) ? null : step,
      shareStep: Number.isNaN(shareStep) ? null : shareStep,
    });
  }
  return rows;
}
