import { describe, expect, it } from 'vitest';
import { trajectoryPlotSvg, type TrajectoryPlotInput } from '../src/index.ts';
import { exampleTrajectory } from './examples.ts';
import { allText, checkSvg } from './util.ts';
import { findAll, hasClass, textContent, type XmlElement } from './xml.ts';

const byClass = (root: XmlElement, c: string): XmlElement[] => findAll(root, (e) => hasClass(e, c));

describe('trajectoryPlotSvg', () => {
  it('draws three titled panels sharing the generation axis', () => {
    const input = exampleTrajectory();
    const root = checkSvg(trajectoryPlotSvg(input));
    const panels = byClass(root, 'panel');
    expect(panels).toHaveLength(3);
    expect(byClass(root, 'panel-title').map(textContent)).toEqual([
      'Basin mass and outside',
      'Entropy (nats)',
      'Step: total variation between consecutive generations (log scale)',
    ]);
    // x tick labels only under the bottom panel, same x positions in every panel
    expect(byClass(panels[0], 'x-tick')).toHaveLength(0);
    expect(byClass(panels[2], 'x-tick').map((e) => e.attrs['data-value'])).toEqual(['0', '50', '100', '150', '200', '250', '300']);
    const frames = panels.map((p) => p.children.find((c) => c.name === 'rect' && c.attrs.stroke)!);
    expect(new Set(frames.map((f) => `${f.attrs.x},${f.attrs.width}`)).size).toBe(1);
    // series: two basins and outside, entropy, step
    expect(byClass(panels[0], 'series').map((g) => g.attrs['data-series'])).toEqual(['left optimum', 'right optimum', 'outside']);
    expect(textContent(byClass(root, 'legend')[0])).toContain('outside');
    // masses on 0..1, step on decades
    const massTicks = byClass(panels[0], 'y-tick').map((e) => Number(e.attrs['data-value']));
    expect(massTicks[0]).toBe(0);
    expect(massTicks[massTicks.length - 1]).toBe(1);
    const stepTicks = byClass(panels[2], 'y-tick').map((e) => Number(e.attrs['data-value']));
    for (const t of stepTicks) expect(Math.log10(t)).toBeCloseTo(Math.round(Math.log10(t)), 9);
    // the step line starts at t = 10 (null at t = 0)
    const stepLine = byClass(panels[2], 'series-line')[0];
    expect((stepLine.attrs.d.match(/M/g) ?? []).length).toBe(1);
    expect(textContent(root.children[0])).toBe(input.title);
  });

  it('names basins after their reward by default ("basin (reward i)", index 0 is reward 1) and escapes given names', () => {
    const rows = exampleTrajectory().rows.map((r) => ({ ...r, mass: [...r.mass, 0.01] }));
    const root = checkSvg(trajectoryPlotSvg({ title: 'a & b', rows, basinNames: ['<left>'] }));
    expect(byClass(root, 'series').slice(0, 4).map((g) => g.attrs['data-series'])).toEqual(['<left>', 'basin (reward 2)', 'basin (reward 3)', 'outside']);
    expect(allText(root)).toContain('<left>');
  });

  it('draws a run recorded at every one of 200,000 generations (no argument spreading limits)', () => {
    const rows = Array.from({ length: 200_000 }, (_, t) => ({
      t, entropy: 2 + Math.exp(-t / 1e4), mass: [0.5 - 0.4 * Math.exp(-t / 1e4), 0.5], outside: 0.4 * Math.exp(-t / 1e4), step: t ? Math.exp(-t / 1e4) : null,
    }));
    const svg = trajectoryPlotSvg({ title: 'long run', rows });
    checkSvg(svg);
    expect(svg).toContain('basin (reward 2)');
    // a few points per pixel column, not one per generation: small enough for a browser
    expect(svg.length).toBeLessThan(500_000);
  });

  it('keeps a one-generation spike of a long run, exactly where a short run draws it', () => {
    const spikeAt = (length: number, at: number) => Array.from({ length }, (_, t) => ({
      t, entropy: 2, mass: [t === at ? 0.9 : 0.1 + 1e-6 * Math.sin(t), 0.5], outside: 0.1, step: t ? 1e-3 : null,
    }));
    // The highest point of the first basin's line: the smallest y pixel of its path.
    const top = (rows: TrajectoryPlotInput['rows']) => {
      const line = /data-series="basin \(reward 1\)"[^>]*><path d="([^"]+)" class="series-line"/.exec(trajectoryPlotSvg({ title: 'x', rows }))![1];
      const ys = [...line.matchAll(/[ML][-0-9.]+,([-0-9.]+)/g)].map((m) => Number(m[1]));
      return Math.min(...ys);
    };
    expect(top(spikeAt(100_000, 61_803))).toBe(top(spikeAt(11, 5)));
  });

  it('draws the share step (contract 2) next to the step, dashed, when the rows have it', () => {
    const rows = exampleTrajectory().rows.map((r) => ({ ...r, shareStep: r.step === null ? null : r.step / 100 }));
    const root = checkSvg(trajectoryPlotSvg({ title: 'x', rows }));
    const panels = byClass(root, 'panel');
    expect(byClass(panels[2], 'series').map((g) => g.attrs['data-series'])).toEqual(['step', 'share step']);
    expect(textContent(byClass(root, 'panel-title')[2])).toMatch(/share step \(dashed\)/);
    // the log axis covers both: its lowest decade is at or below the smallest share step
    const ticks = byClass(panels[2], 'y-tick').map((e) => Number(e.attrs['data-value']));
    const least = Math.min(...rows.map((r) => r.shareStep).filter((v): v is number => v !== null && v > 0));
    expect(Math.min(...ticks)).toBeLessThanOrEqual(least * 10);
    // rows without it (contract 1) keep the one-series panel
    const old = checkSvg(trajectoryPlotSvg(exampleTrajectory()));
    expect(byClass(byClass(old, 'panel')[2], 'series').map((g) => g.attrs['data-series'])).toEqual(['step']);
  });

  it('handles degenerate inputs', () => {
    const empty = checkSvg(trajectoryPlotSvg({ title: 'x', rows: [] }));
    expect(byClass(empty, 'no-data')).toHaveLength(1);
    // one row: step is null, so the step panel says so
    const one: TrajectoryPlotInput = { title: 'x', rows: [{ t: 0, entropy: 1, mass: [0.5, 0.5], outside: 0, step: null }] };
    const r1 = checkSvg(trajectoryPlotSvg(one));
    expect(byClass(r1, 'panel')).toHaveLength(3);
    expect(byClass(r1, 'no-data').map(textContent)).toEqual(['no positive step']);
    // converged to a fixed point: steps exactly 0 are skipped on the log axis
    const rows = [0, 1, 2, 3].map((t) => ({ t, entropy: 0, mass: [1], outside: 0, step: t === 0 ? null : t === 1 ? 1e-3 : 0 }));
    const r2 = checkSvg(trajectoryPlotSvg({ title: 'x', rows }));
    expect(byClass(r2, 'no-data')).toHaveLength(0);
    // no basins, NaN values, unsorted rows
    const odd = checkSvg(
      trajectoryPlotSvg({
        title: 'x',
        rows: [
          { t: 5, entropy: NaN, mass: [], outside: 1, step: 0.1 },
          { t: 1, entropy: 2, mass: [], outside: 1, step: 0.2 },
        ],
      }),
    );
    expect(byClass(odd, 'series')[0].attrs['data-series']).toBe('outside');
  });
});
