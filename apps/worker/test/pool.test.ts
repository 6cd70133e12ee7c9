import { afterAll, describe, expect, it } from 'vitest';
import { createComputePool } from '../src/pool.ts';
import { StopFlag } from '../src/stop-flag.ts';

const config = (iterations: number) => ({
  support: { kind: 'grid', min: -6, max: 6, n: 61 },
  rewards: [{ kind: 'quadratic', center: -1 }, { kind: 'quadratic', center: 1 }],
  K: 'inf', q: 0.4, iterations, realFraction: 0.1,
}) as never;

describe('compute pool', () => {
  const pool = createComputePool(1);
  afterAll(() => pool.destroy());

  it('runs the tasks of a job that started earlier first, instead of interleaving jobs', async () => {
    const done: string[] = [];
    const submit = (label: string, order: number) =>
      pool.simulate([config(200)], new StopFlag(), 60_000, order).then((out) => {
        expect(out[0].ok).toBe(true);
        done.push(label);
      });
    const later = pool.nextOrder();
    const earlier = later - 1; // as if this job had started computing before
    // The first two go to the (one) thread at once; the rest wait here, ordered.
    const all = [submit('b1', later), submit('b2', later), submit('b3', later), submit('b4', later)];
    all.push(submit('a1', earlier), submit('a2', earlier));
    await Promise.all(all);
    expect(done).toEqual(['b1', 'b2', 'a1', 'a2', 'b3', 'b4']);
  });

  it('answers a stopped task that has not started without running it, even behind a long run', async () => {
    const longFlag = new StopFlag();
    let longDone = false;
    const long = pool.simulate([config(50_000_000)], longFlag, 600_000, pool.nextOrder()).finally(() => { longDone = true; });
    const next = pool.simulate([config(10)], new StopFlag(), 60_000, pool.nextOrder()); // in Piscina's hands already
    const flag = new StopFlag();
    const waiting = pool.simulate([config(10)], flag, 60_000, pool.nextOrder());
    flag.set('cancel');
    pool.dropStopped();
    expect(await waiting).toEqual([{ ok: false, stopped: true, timedOut: false }]);
    expect(longDone).toBe(false); // answered at once, not after the long run
    longFlag.set('shutdown');
    expect(await long).toEqual([{ ok: false, stopped: true, timedOut: false }]);
    expect((await next)[0].ok).toBe(true);
  });
});
