// Seeded random numbers for sampled mode. Only 32-bit integer operations and
// exactly rounded double arithmetic (products and quotients of integers below
// 2^53), so a given seed yields the same stream on every machine and JS engine.

export const GENERATOR_NAME = 'xoshiro128** 1.1 (state from two splitmix32 streams over the 32-bit halves of the seed), 53-bit doubles, Lemire bounded integers';

const TWO32 = 4294967296;
const TWO53 = 9007199254740992;
const INV_TWO32 = 1 / TWO32;

/** splitmix32 step: golden-ratio increment, murmur3 fmix32 finaliser. */
function splitmix32(state: { x: number }): number {
  state.x = (state.x + 0x9e3779b9) >>> 0;
  let z = state.x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** seed: any safe integer; its low and high 32-bit halves seed two independent splitmix32 streams. */
  constructor(seed: number) {
    const lo = seed >>> 0; // two's-complement low word, also for negative seeds
    const hi = Math.floor(seed / TWO32) >>> 0;
    const a = { x: lo };
    const b = { x: (hi ^ 0x6a09e667) >>> 0 };
    // (s0, s2) determine (lo, hi), so distinct seeds give distinct states; s1 and s3
    // mix both halves so that even the first output depends on the whole seed.
    this.s0 = splitmix32(a);
    this.s2 = splitmix32(b);
    this.s1 = (splitmix32(a) ^ splitmix32(b)) >>> 0;
    this.s3 = (splitmix32(a) ^ splitmix32(b)) >>> 0;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the one forbidden state
  }

  /** Next 32-bit output as an unsigned integer. */
  nextU32(): number {
    const s0 = this.s0;
    const s1 = this.s1;
    const s2 = this.s2;
    const s3 = this.s3;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    const n2 = s2 ^ s0;
    const n3 = s3 ^ s1;
    this.s1 = s1 ^ n2;
    this.s0 = s0 ^ n3;
    this.s2 = n2 ^ t;
    this.s3 = (n3 << 11) | (n3 >>> 21);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  nextDouble(): number {
    const a = this.nextU32() >>> 5;
    const b = this.nextU32() >>> 6;
    return (a * 67108864 + b) / TWO53;
  }

  /** Uniform integer in [0, n), unbiased, for 1 <= n <= 2^32. */
  nextInt(n: number): number {
    if (n <= 2097152) {
      // Lemire's multiply-shift. x * n < 2^53 is exact in a double, its low 32 bits
      // are Math.imul's, and scaling by 2^-32 is exact: no floating modulo needed.
      let x = this.nextU32();
      let low = Math.imul(x, n) >>> 0;
      if (low < n) {
        const threshold = (TWO32 - n) % n;
        while (low < threshold) {
          x = this.nextU32();
          low = Math.imul(x, n) >>> 0;
        }
      }
      return Math.floor(x * n * INV_TWO32);
    }
    // Larger ranges: rejection on the smallest covering power of two.
    const bits = 32 - Math.clz32(n - 1);
    const mask = bits === 32 ? 0xffffffff : (1 << bits) - 1;
    for (;;) {
      const x = (this.nextU32() & mask) >>> 0;
      if (x < n) return x;
    }
  }
}

/**
 * Walker/Vose alias table: O(1) draws from a fixed distribution with one bounded
 * integer and one double. Atoms of probability 0 are never drawn.
 */
export class AliasTable {
  readonly prob: Float64Array;
  readonly alias: Int32Array;

  constructor(p: Float64Array) {
    const n = p.length;
    this.prob = new Float64Array(n);
    this.alias = new Int32Array(n);
    let total = 0;
    let best = 0;
    for (let j = 0; j < n; j++) {
      total += p[j];
      if (p[j] > p[best]) best = j;
    }
    const scaled = new Float64Array(n);
    for (let j = 0; j < n; j++) scaled[j] = (p[j] * n) / total;
    const small = new Int32Array(n);
    const large = new Int32Array(n);
    let ns = 0;
    let nl = 0;
    for (let j = 0; j < n; j++) {
      if (scaled[j] < 1) small[ns++] = j;
      else large[nl++] = j;
    }
    while (ns > 0 && nl > 0) {
      const s = small[--ns];
      const l = large[--nl];
      this.prob[s] = scaled[s];
      this.alias[s] = l;
      scaled[l] = scaled[l] + scaled[s] - 1;
      if (scaled[l] < 1) small[ns++] = l;
      else large[nl++] = l;
    }
    while (nl > 0) this.prob[large[--nl]] = 1;
    while (ns > 0) this.prob[small[--ns]] = 1; // rounding leftovers, each ~1
    for (let j = 0; j < n; j++) {
      if (p[j] === 0) {
        // A rounding leftover must not resurrect an atom without mass.
        this.prob[j] = 0;
        this.alias[j] = p[this.alias[j]] > 0 ? this.alias[j] : best;
      }
    }
  }

  draw(rng: Xoshiro128): number {
    const j = rng.nextInt(this.prob.length);
    return rng.nextDouble() < this.prob[j] ? j : this.alias[j];
  }
}
