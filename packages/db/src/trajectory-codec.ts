// Trajectories are stored as one bytea per run rather than a row per generation, and
// decode to exactly the numbers the core produced (every bit; a null step or shareStep,
// t = 0, is NaN in the columns below).
//
// Versions 1 and 2: column-packed little-endian Float64. Layout: [version, rows, m]
// then the columns t, entropy, effectiveSupport, outside, step, (version 2: shareStep,)
// mass[0..m-1], meanReward[0..m-1], varReward[0..m-1], each `rows` long. Version 1
// rows (contract 1, before shareStep existed) decode with shareStep null.
//
// Version 3 (every new row): the same version 2 columns, compacted losslessly so that
// Postgres stores (and extends its files by) fewer pages per result. Little-endian:
// Float64 3, Uint32 rows, Uint32 m, Uint32 flags, Uint32 0, then
//   flags & 1: Float64 t0, Float64 stride, with t = t0 + r * stride on every row
//              (recordEvery makes it so); the t column is then left out below;
//   one 4-bit length per value, two a byte (low nibble first), then per value that
//   many low bytes of the zigzag-coded difference between its 64-bit pattern and a
//   prediction from the two before it in its column (2 * previous - the one before,
//   modulo 2^64; the previous one for the second row, 0 for the first). The pattern
//   of a positive double grows about like its logarithm, so a column that moves
//   smoothly or decays exponentially is predicted to within its low bytes, and the
//   zero high bytes are left out.
// Floats are only handled as bit patterns, never computed on, except t0 + r * stride,
// which the encoder checks gives back every stored t bit for bit. Plain arithmetic on
// 32-bit halves, no zlib: a zlib call costs more than a small run's trajectory is worth.
import type { MetricsRow } from '@curation/core';

/** A decoded trajectory row: section 4 of the contract, shareStep included (null before contract 2). */
export type StoredMetricsRow = MetricsRow & { shareStep: number | null };

/** The version encodeTrajectory writes unless told otherwise. */
export const TRAJECTORY_VERSION = 3;
const HEADER = 3;
const V3_HEADER_BYTES = 24;
const T_ARITHMETIC = 1;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Scalar columns before the per-reward ones, by encoding version. */
const SCALARS: Record<number, number> = { 1: 5, 2: 6, 3: 6 };

/** Column-packed Float64 (version 2 layout, without its header): column c of row r at c * n + r. */
function columns(rows: readonly MetricsRow[], n: number, m: number, out: Float64Array, at: number): void {
  const s = SCALARS[2];
  // Plain index arithmetic: a helper closure per row cost more than the copying itself
  // (it runs per run of every sweep).
  for (let r = 0; r < n; r++) {
    const row = rows[r];
    // Until every core writes shareStep (contract 2), a row without it stores null.
    const shareStep = (row as { shareStep?: number | null }).shareStep;
    const k = at + r;
    out[k] = row.t;
    out[k + n] = row.entropy;
    out[k + 2 * n] = row.effectiveSupport;
    out[k + 3 * n] = row.outside;
    out[k + 4 * n] = row.step === null ? Number.NaN : row.step;
    out[k + 5 * n] = shareStep === null || shareStep === undefined ? Number.NaN : shareStep;
    for (let i = 0; i < m; i++) {
      out[k + (s + i) * n] = row.mass[i];
      out[k + (s + m + i) * n] = row.meanReward[i];
      out[k + (s + 2 * m + i) * n] = row.varReward[i];
    }
  }
}

function encodeV2(rows: readonly MetricsRow[]): Buffer {
  const n = rows.length;
  const m = n ? rows[0].mass.length : 0;
  const out = new Float64Array(HEADER + (SCALARS[2] + 3 * m) * n);
  out[0] = 2;
  out[1] = n;
  out[2] = m;
  columns(rows, n, m, out, HEADER);
  // Float64Array is host-endian; every platform we deploy on is little-endian, but be explicit.
  const buf = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  if (!LITTLE_ENDIAN) buf.swap64();
  return buf;
}

/** Is t = t0 + r * stride, bit for bit, on every row? */
function arithmetic(t: Float64Array, n: number): boolean {
  if (n < 2) return false;
  const t0 = t[0];
  const stride = t[1] - t[0];
  for (let r = 0; r < n; r++) if (!Object.is(t0 + r * stride, t[r])) return false;
  return true;
}

function encodeV3(rows: readonly MetricsRow[]): Buffer {
  const n = rows.length;
  const m = n ? rows[0].mass.length : 0;
  const cols = SCALARS[3] + 3 * m;
  const f = new Float64Array(cols * n);
  columns(rows, n, m, f, 0);
  const tArithmetic = arithmetic(f, n);
  const first = tArithmetic ? n : 0; // the t column, left out when derivable
  const count = f.length - first;
  const head = V3_HEADER_BYTES + (tArithmetic ? 16 : 0);
  const out = Buffer.allocUnsafe(head + ((count + 1) >> 1) + 8 * count);
  out.writeDoubleLE(3, 0);
  out.writeUInt32LE(n, 8);
  out.writeUInt32LE(m, 12);
  out.writeUInt32LE(tArithmetic ? T_ARITHMETIC : 0, 16);
  out.writeUInt32LE(0, 20);
  if (tArithmetic) {
    out.writeDoubleLE(f[0], V3_HEADER_BYTES);
    out.writeDoubleLE(f[1] - f[0], V3_HEADER_BYTES + 8);
  }
  // Signed 32-bit halves throughout (no unsigned values past 2^31, which V8 would keep
  // as doubles); an unsigned comparison is a signed one with both sign bits flipped.
  const u = new Int32Array(f.buffer);
  const lo = LITTLE_ENDIAN ? 0 : 1;
  const hi = 1 - lo;
  let nib = head;
  let at = head + ((count + 1) >> 1);
  let i = 0;
  for (let c = first / n; c < cols; c++) {
    // The two patterns before, as halves.
    let l1 = 0;
    let h1 = 0;
    let l2 = 0;
    let h2 = 0;
    for (let r = 0; r < n; r++, i++) {
      const k = c * n + r;
      const l = u[2 * k + lo];
      const h = u[2 * k + hi];
      // The prediction 2 * (h1:l1) - (h2:l2), then d = (h:l) - prediction, modulo 2^64.
      const tl = l1 << 1;
      const pl = (tl - l2) | 0;
      const ph = (((((h1 << 1) | (l1 >>> 31)) - h2) | 0) - ((tl ^ SIGN) < (l2 ^ SIGN) ? 1 : 0)) | 0;
      const dl = (l - pl) | 0;
      const dh = (((h - ph) | 0) - ((l ^ SIGN) < (pl ^ SIGN) ? 1 : 0)) | 0;
      // After the first row the one before counts as equal to it: the second row is
      // predicted by the first.
      if (r === 0) {
        l2 = l;
        h2 = h;
      } else {
        l2 = l1;
        h2 = h1;
      }
      l1 = l;
      h1 = h;
      // Zigzag, (d << 1) ^ (d >> 63): small differences of either sign have zero high bytes.
      const sign = dh >> 31;
      const zl = (dl << 1) ^ sign;
      const zh = ((dh << 1) | (dl >>> 31)) ^ sign;
      const len = zh !== 0 ? 4 + bytesOf(zh) : bytesOf(zl);
      if (i & 1) out[nib++] |= len << 4;
      else out[nib] = len;
      let x = zl;
      for (let b = 0; b < len; b++) {
        if (b === 4) x = zh;
        out[at++] = x & 0xff;
        x >>>= 8;
      }
    }
  }
  return out.subarray(0, at);
}

const SIGN = -0x80000000;

/** Significant bytes of a 32-bit pattern (held as a signed integer). */
function bytesOf(x: number): number {
  return x & 0xff000000 ? 4 : x & 0xff0000 ? 3 : x & 0xff00 ? 2 : x ? 1 : 0;
}

/** Encodes a trajectory for storage (version 3 unless an older version is asked for, e.g. by tests). */
export function encodeTrajectory(rows: readonly MetricsRow[], version: 2 | 3 = TRAJECTORY_VERSION): Buffer {
  return version === 2 ? encodeV2(rows) : encodeV3(rows);
}

/** The encoding version of a stored trajectory (1: contract 1, no shareStep; 2: with shareStep; 3: compacted). */
export function trajectoryVersion(bytes: Uint8Array): number {
  if (bytes.byteLength < 8) throw new Error('trajectory shorter than its header');
  return Buffer.from(bytes.buffer, bytes.byteOffset, 8).readDoubleLE(0);
}

/** Version 3 back to the version 2 columns (without header): column c of row r at c * n + r. */
function v3Columns(bytes: Uint8Array): { f: Float64Array; n: number; m: number } {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.byteLength < V3_HEADER_BYTES) throw new Error('trajectory shorter than its header');
  const n = b.readUInt32LE(8);
  const m = b.readUInt32LE(12);
  const tArithmetic = (b.readUInt32LE(16) & T_ARITHMETIC) !== 0;
  const cols = SCALARS[3] + 3 * m;
  const f = new Float64Array(cols * n);
  const first = tArithmetic ? n : 0;
  const count = f.length - first;
  const head = V3_HEADER_BYTES + (tArithmetic ? 16 : 0);
  if (b.byteLength < head + ((count + 1) >> 1)) throw new Error('trajectory shorter than its header');
  if (tArithmetic) {
    const t0 = b.readDoubleLE(V3_HEADER_BYTES);
    const stride = b.readDoubleLE(V3_HEADER_BYTES + 8);
    for (let r = 0; r < n; r++) f[r] = t0 + r * stride;
  }
  const u = new Uint32Array(f.buffer);
  const lo = LITTLE_ENDIAN ? 0 : 1;
  const hi = 1 - lo;
  let at = head + ((count + 1) >> 1);
  let i = 0;
  for (let c = first / n; c < cols; c++) {
    let l1 = 0;
    let h1 = 0;
    let l2 = 0;
    let h2 = 0;
    for (let r = 0; r < n; r++, i++) {
      const len = (b[head + (i >> 1)] >> ((i & 1) * 4)) & 0xf;
      if (len > 8 || at + len > b.byteLength) throw new Error('trajectory cut short or corrupt');
      let zl = 0;
      let zh = 0;
      for (let k = 0; k < len; k++) {
        if (k < 4) zl |= b[at++] << (8 * k);
        else zh |= b[at++] << (8 * (k - 4));
      }
      zl >>>= 0;
      zh >>>= 0;
      // Undo the zigzag, then add the prediction back (modulo 2^64).
      const neg = -(zl & 1);
      const dl = (((zl >>> 1) | (zh << 31)) ^ neg) >>> 0;
      const dh = ((zh >>> 1) ^ neg) >>> 0;
      const tl = (l1 << 1) >>> 0;
      const pl = (tl - l2) >>> 0;
      const ph = ((((h1 << 1) | (l1 >>> 31)) >>> 0) - h2 - (tl < l2 ? 1 : 0)) >>> 0;
      const l = (dl + pl) >>> 0;
      const h = (dh + ph + (l < pl ? 1 : 0)) >>> 0;
      const k = c * n + r;
      u[2 * k + lo] = l;
      u[2 * k + hi] = h;
      l2 = r === 0 ? l : l1;
      h2 = r === 0 ? h : h1;
      l1 = l;
      h1 = h;
    }
  }
  if (at !== b.byteLength) throw new Error('trajectory has bytes past its columns');
  return { f, n, m };
}

export function decodeTrajectory(bytes: Uint8Array): StoredMetricsRow[] {
  const version = trajectoryVersion(bytes);
  let f: Float64Array;
  let at: number;
  let n: number;
  let m: number;
  if (version === 3) {
    ({ f, n, m } = v3Columns(bytes));
    at = 0;
  } else if (version === 1 || version === 2) {
    const copy = Buffer.from(bytes); // aligned copy we may swap in place
    if (!LITTLE_ENDIAN) copy.swap64();
    f = new Float64Array(copy.buffer, copy.byteOffset, copy.byteLength / 8);
    n = f[1];
    m = f[2];
    at = HEADER;
  } else {
    throw new Error(`unknown trajectory encoding version ${version}`);
  }
  const s = SCALARS[version];
  const col = (c: number, r: number) => f[at + c * n + r];
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
