import { describe, expect, it } from 'vitest';
import { boundaryText, type BoundaryReply } from '../src/commands/boundary.ts';

describe('sweep boundary', () => {
  it('prints progress and one row per polyline point in the refine axes', () => {
    const b: BoundaryReply = {
      id: 'abc', status: 'succeeded', stage: 3, done: true, runs: 120, budget: 500, fullGrid: 1089, finest: 32,
      axes: [{ param: 'q', min: 0.1, max: 0.9, scale: 'linear' }, { param: 'beta', min: 1, max: 8, scale: 'log' }],
      outcome: { kind: 'verdict', path: 'summary.collapsed', aggregate: 'majority' },
      polylines: [[[0.25, 1], [0.3, 2.5]]],
      cells: [{ range: [[0.2, 0.225], [1, 1.07]], level: 3, boundary: true, value: 0.5 }],
      leaves: 40,
    };
    const text = boundaryText(b, true);
    expect(text.split('\n')[0]).toBe(
      'sweep abc succeeded: stage 3 (done), 120 of a budget of 500 runs (a full grid at 1/32 would take 1089); path summary.collapsed, aggregate majority; 1 line(s)',
    );
    expect(text).toMatch(/line\s+point\s+q\s+beta/);
    expect(text).toMatch(/0\s+1\s+0\.3\s+2\.5/);
    expect(text).toMatch(/level\s+q\.from\s+q\.to\s+beta\.from\s+beta\.to\s+value/);
    expect(boundaryText({ ...b, polylines: [] })).toContain('no boundary found');
  });
});
