import { describe, expect, it } from 'vitest';
import { MAX_JOB_INDEXES, maxJobIndexes, packBatches } from '../src/batches.ts';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('job packing', () => {
  it('gives a small sweep at least about 32 jobs, in sizes that divide 100', () => {
    expect(maxJobIndexes(100_000)).toBe(MAX_JOB_INDEXES);
    expect(maxJobIndexes(3_200)).toBe(100);
    expect(maxJobIndexes(3_199)).toBe(50);
    expect(maxJobIndexes(2_000)).toBe(50);
    expect(maxJobIndexes(1_000)).toBe(25);
    expect(maxJobIndexes(100)).toBe(10);
    expect(maxJobIndexes(5)).toBe(10);
    for (const n of [1, 50, 640, 1_000, 2_000, 5_000]) expect(100 % maxJobIndexes(n)).toBe(0);
  });

  it('packs cheap configurations up to the size limit, and expensive ones a job each, in order', () => {
    const cheap = packBatches(() => 0.001, range(2_000), maxJobIndexes(2_000));
    expect(cheap).toHaveLength(40);
    expect(cheap.flat()).toEqual(range(2_000));
    const costly = packBatches((i) => (i % 2 ? 2 : 0.001), range(6));
    expect(costly).toEqual([[0], [1], [2], [3], [4], [5]]);
  });

  it('cuts the same jobs when an enqueue resumes at a chunk boundary', () => {
    const size = maxJobIndexes(1_000);
    const whole = packBatches(() => 0.001, range(1_000), size);
    const resumed = [...packBatches(() => 0.001, range(400), size), ...packBatches(() => 0.001, range(1_000).slice(400), size)];
    expect(resumed).toEqual(whole);
  });
});
