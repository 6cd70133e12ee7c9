// Number and table formatting of the API commands.
import { describe, expect, it } from 'vitest';
import { formatDuration, formatNumber, formatTable } from '../src/format.ts';
import { issueLine } from '../src/api-client.ts';
import { exitCodeForStatus } from '../src/exit-codes.ts';

describe('format', () => {
  it('numbers to 4 significant digits', () => {
    expect(formatNumber(0.123456)).toBe('0.1235');
    expect(formatNumber(12)).toBe('12');
    expect(formatNumber(1234.5678)).toBe('1235');
    expect(formatNumber(0.5)).toBe('0.5');
    expect(formatNumber(8.326672684688674e-17)).toBe('8.327e-17');
    expect(formatNumber(-2.5e9)).toBe('-2.5e+9');
    expect(formatNumber(0)).toBe('0');
  });

  it('tables: header, numbers right-aligned, text left-aligned, "-" for null', () => {
    const t = formatTable(['name', 'q', 'mean'], [['a', 0.1, 0.123456], ['bbb', 0.25, null]]);
    expect(t).toBe('name     q    mean\na      0.1  0.1235\nbbb   0.25       -\n');
  });

  it('durations', () => {
    expect(formatDuration(null)).toBe('-');
    expect(formatDuration(42)).toBe('42s');
    expect(formatDuration(75)).toBe('1m15s');
    expect(formatDuration(3725)).toBe('1h02m');
  });

  it('issue lines and exit codes', () => {
    expect(issueLine({ path: '/rewards/0/center', message: 'bad', index: 12 })).toBe('[config 12] /rewards/0/center: bad');
    expect(issueLine({ path: '', message: 'bad' })).toBe('/: bad');
    expect([400, 422, 401, 403, 404, 409, 429, 500, 503].map(exitCodeForStatus)).toEqual([2, 2, 6, 6, 3, 4, 7, 1, 1]);
  });
});
