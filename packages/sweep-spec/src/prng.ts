// Deterministic pseudo-random numbers for `random` axes (never Math.random).
//
// Every (axis seed, param name, point index) triple seeds its own splitmix32
// generator, so point j of a random axis is computed directly from j (random
// access for configAt), and the draws of one param do not depend on the other
// params of the axis nor on the order of keys in the stored specification.

const GOLDEN = 0x9e3779b9;

/** splitmix32 output function (constants from Chris Wellons' hash prospector). */
function fmix(x: number): number {
  let z = x | 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

/** splitmix32: state advances by the golden ratio, output is the mixed state. */
export class SplitMix32 {
  private state: number;

  constructor(seed: number) {
    this.state = seed | 0;
  }

  /** Next uniform 32-bit unsigned integer. */
  nextU32(): number {
    this.state = (this.state + GOLDEN) | 0;
    return fmix(this.state);
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, range), range an integer in 1..2^32 (rejection sampling, unbiased). */
  nextBelow(range: number): number {
    if (range <= 1) return 0;
    const limit = Math.floor(4294967296 / range) * range;
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % range;
    }
  }
}

/** FNV-1a hash of a string's UTF-16 code units, 32 bits. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Splits a safe integer (possibly negative) into two 32-bit words. */
function words(n: number): [number, number] {
  return [n >>> 0, Math.floor(n / 4294967296) >>> 0];
}

/** Key of one param's stream: depends on the axis seed and the param name. */
export function streamKey(seed: number, name: string): number {
  const [lo, hi] = words(seed);
  return fmix(fmix(fmix(lo ^ 0x5bd1e995) ^ hi) ^ hashString(name));
}

/** The generator for point `j` of a stream. */
export function pointRng(key: number, j: number): SplitMix32 {
  const [lo, hi] = words(j);
  return new SplitMix32(fmix(fmix(key ^ fmix(lo + GOLDEN)) ^ hi));
}
