import { describe, expect, it } from 'vitest';
import { simulate } from '@curation/core';
import runTaskMoved, { runTask } from '../src/task.ts';
import { groupIntoTasks, MAX_TASK_CONFIGS } from '../src/process-job.ts';
import { decodeTrajectory } from '@curation/db/trajectory-codec';

const config = (q: number, iterations = 50) => ({
  support: { kind: 'grid', min: -6, max: 6, n: 61 },
  rewards: [{ kind: 'quadratic', center: -1 }, { kind: 'quadratic', center: 1 }],
  K: 'inf', q, iterations,
}) as never;

describe('pool task of several configurations', () => {
  it('gives one outcome per configuration, in order, equal to simulating each alone', () => {
    const configs = [config(0.2), config(0.5), config(0.8)];
    const outs = runTask({ configs, flag: new SharedArrayBuffer(4), timeoutMs: 60_000 });
    expect(outs).toHaveLength(3);
    outs.forEach((o, k) => {
      if (!o.ok) throw new Error('run failed');
      const alone = simulate(configs[k], {});
      expect(JSON.parse(o.summaryJson)).toEqual(alone.summary);
      expect(o.columns).toMatchObject({ converged: alone.summary.converged, finalEntropy: alone.summary.final.entropy });
      expect(decodeTrajectory(o.trajectory)).toEqual(alone.trajectory);
    });
  });

  it('takes configurations as JSON text too, and its Piscina entry answers views of one buffer to move', () => {
    const configs = [config(0.2), JSON.stringify(config(0.5)), '{not json'];
    const moved = runTaskMoved({ configs, flag: new SharedArrayBuffer(4), timeoutMs: 60_000 }) as unknown as Record<symbol, unknown>;
    const outs = moved[Symbol.for('Piscina.valueOf')] as ReturnType<typeof runTask>;
    const [buffer] = moved[Symbol.for('Piscina.transferable')] as ArrayBuffer[];
    expect(outs.map((o) => o.ok)).toEqual([true, true, false]);
    let total = 0;
    outs.forEach((o, k) => {
      if (!o.ok) return;
      expect(o.trajectory.buffer).toBe(buffer);
      total += o.trajectory.byteLength;
      expect(decodeTrajectory(o.trajectory)).toEqual(simulate(k === 0 ? configs[0] : JSON.parse(configs[1] as string), {}).trajectory);
    });
    expect(buffer.byteLength).toBe(total);
  });

  it('fails one run that throws and goes on with the next', () => {
    const bad = { ...(config(0.5) as object), rewards: [{ kind: 'quadratic', center: -1 }, { kind: 'quadratic', center: 1e200 }] } as never;
    const outs = runTask({ configs: [bad, config(0.5)], flag: new SharedArrayBuffer(4), timeoutMs: 60_000 });
    expect(outs.map((o) => o.ok)).toEqual([false, true]);
    expect(outs[0]).toMatchObject({ ok: false, stopped: false });
  });

  it('after a stop, starts nothing more and ends the list with the stopped outcome', () => {
    const flag = new SharedArrayBuffer(4);
    Atomics.store(new Int32Array(flag), 0, 1);
    const outs = runTask({ configs: [config(0.2), config(0.5)], flag, timeoutMs: 60_000 });
    expect(outs).toEqual([{ ok: false, stopped: true, timedOut: false }]);
  });

  it('counts the time limit per run: a run over it fails, the next one still runs', () => {
    const outs = runTask({ configs: [config(0.5, 200_000), config(0.5)], flag: new SharedArrayBuffer(4), timeoutMs: 20 });
    expect(outs[0]).toEqual({ ok: false, stopped: true, timedOut: true });
    expect(outs[1].ok).toBe(true);
  });
});

describe('grouping cheap computations into pool tasks', () => {
  const item = (hash: string, costSeconds: number) => [hash, [{ index: 0, ok: true, hash, config: {} as never, costSeconds }]] as [string, never[]];

  it('packs about the target of estimated compute per task, in order', () => {
    const tasks = groupIntoTasks([item('a', 0.008), item('b', 0.008), item('c', 0.008), item('d', 0.5), item('e', 0.001)], 0.02);
    expect(tasks.map((t) => t.map((c) => c.hash))).toEqual([['a', 'b'], ['c'], ['d'], ['e']]);
  });

  it(`never puts more than ${MAX_TASK_CONFIGS} configurations in one task`, () => {
    const tasks = groupIntoTasks(Array.from({ length: 3 * MAX_TASK_CONFIGS + 4 }, (_, i) => item(String(i), 0)), 0.02);
    expect(tasks.map((t) => t.length)).toEqual([MAX_TASK_CONFIGS, MAX_TASK_CONFIGS, MAX_TASK_CONFIGS, 4]);
  });
});
