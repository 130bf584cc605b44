import { describe, expect, it } from 'vitest';

import { linePath, niceMax } from './chart-geometry';

describe('chart geometry', () => {
  it('scales time to x and value to y, with 0 at the bottom', () => {
    expect(linePath([{ t: 0, v: 0 }, { t: 50, v: 5 }, { t: 100, v: 10 }], 100, 20, 10)).toBe('M0,20L50,10L100,0');
  });

  it('breaks the line at a gap instead of drawing through it', () => {
    expect(linePath([{ t: 0, v: 1 }, { t: 1, v: null }, { t: 2, v: 1 }], 100, 10, 1)).toBe('M0,0M100,0');
  });

  it('rounds the axis up to 1, 2 or 5 times a power of ten', () => {
    expect(niceMax(0)).toBe(1);
    expect(niceMax(7)).toBe(10);
    expect(niceMax(130)).toBe(200);
    expect(niceMax(4_100)).toBe(5_000);
  });
});
