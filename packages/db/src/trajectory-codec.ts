// Trajectories are stored as one bytea per run rather than a row per generation:
// column-packed little-endian Float64 (exact round trip, ~8 bytes a number, no text
// parsing). Layout: [version, rows, m] then the columns t, entropy, effectiveSupport,
// outside, step, mass[0..m-1], meanReward[0..m-1], varReward[0..m-1], each `rows` long.
// A null step (t = 0) is stored as NaN.
import type { MetricsRow } from '@curation/core';

const VERSION = 1;
const HEADER = 3;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function encodeTrajectory(rows: MetricsRow[]): Buffer {
  const n = rows.length;
  const m = n ? rows[0].mass.length : 0;
  const cols = 5 + 3 * m;
  const out = new Float64Array(HEADER + cols * n);
  out[0] = VERSION;
  out[1] = n;
  out[2] = m;
  // Column c of row r lives at HEADER + c * n + r. Plain index arithmetic: a helper
  // closure per row cost more than the copying itself (it ran per run of every sweep).
  for (let r = 0; r < n; r++) {
    const row = rows[r];
    const at = HEADER + r;
    out[at] = row.t;
    out[at + n] = row.entropy;
    out[at + 2 * n] = row.effectiveSupport;
    out[at + 3 * n] = row.outside;
    out[at + 4 * n] = row.step === null ? Number.NaN : row.step;
    for (let i = 0; i < m; i++) {
      out[at + (5 + i) * n] = row.mass[i];
      out[at + (5 + m + i) * n] = row.meanReward[i];
      out[at + (5 + 2 * m + i) * n] = row.varReward[i];
    }
  }
  // Float64Array is host-endian; every platform we deploy on is little-endian, but be explicit.
  const buf = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  if (!LITTLE_ENDIAN) buf.swap64();
  return buf;
}

export function decodeTrajectory(bytes: Uint8Array): MetricsRow[] {
  const copy = Buffer.from(bytes); // aligned copy we may swap in place
  if (!LITTLE_ENDIAN) copy.swap64();
  const f = new Float64Array(copy.buffer, copy.byteOffset, copy.byteLength / 8);
  if (f[0] !== VERSION) throw new Error(`unknown trajectory encoding version ${f[0]}`);
  const n = f[1];
  const m = f[2];
  const col = (c: number, r: number) => f[HEADER + c * n + r];
  const rows: MetricsRow[] = [];
  for (let r = 0; r < n; r++) {
    const step = col(4, r);
    rows.push({
      t: col(0, r),
      entropy: col(1, r),
      effectiveSupport: col(2, r),
      mass: Array.from({ length: m }, (_, i) => col(5 + i, r)),
      outside: col(3, r),
      meanReward: Array.from({ length: m }, (_, i) => col(5 + m + i, r)),
      varReward: Array.from({ length: m }, (_, i) => col(5 + 2 * m + i, r)),
      step: Number.isNaN(step) ? null : step,
    });
  }
  return rows;
}
