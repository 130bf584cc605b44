import { describe, expect, it } from 'vitest';

import type { RegionStats } from '../api/types';
import { faultRate, intervalLatency, intervalQuantile } from './stats-series';

function stats(missing: number, buckets: number[]): RegionStats {
  const count = buckets.reduce((a, b) => a + b, 0);
  return {
    faults: { missing, wp: 0, minor: 0 },
    events: { remove: 0, unmap: 0, remap: 0, fork: 0 },
    installed: { demand: missing, faultAround: 0, prefetch: 0, background: 0 },
    zeroPages: 0,
    bytesInstalled: 0,
    latency: { count, p50Ns: 0, p99Ns: 0, p999Ns: null, maxNs: 0 },
    latencyBuckets: buckets,
    blockedNs: 0,
    retries: { eexist: 0, eagain: 0 },
  };
}

describe('region statistics over time', () => {
  it('computes faults per second from successive samples, and no rate across a counter reset', () => {
    const samples = [
      { t: 0, value: stats(100, []) },
      { t: 2000, value: stats(500, []) },
      { t: 4000, value: stats(10, []) },
      { t: 5000, value: stats(60, []) },
    ];
    expect(faultRate(samples)).toEqual([
      { t: 2000, v: 200 },
      { t: 4000, v: null },
      { t: 5000, v: 50 },
    ]);
  });

  it('takes interval percentiles from the growth of the histogram, not from its totals', () => {
    // Before: 1000 old fast faults in bucket 10 (1-2 µs). Then 100 new ones, 98 in bucket 12 and 2 slow in bucket 20.
    const before = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1000, 0, 0];
    const after = [...before];
    after[10] = 1000;
    after[12] = 98;
    after[20] = 2;
    expect(intervalQuantile(before, after, 0.5)).toBe(2 ** 13);
    expect(intervalQuantile(before, after, 0.99)).toBe(2 ** 21);
    expect(intervalQuantile(before, before, 0.5)).toBeNull();
  });

  it('leaves a gap where no fault happened', () => {
    const samples = [
      { t: 0, value: stats(1, [0, 1]) },
      { t: 1000, value: stats(1, [0, 1]) },
      { t: 2000, value: stats(2, [0, 1, 1]) },
    ];
    const { p50, p99 } = intervalLatency(samples);
    expect(p50).toEqual([{ t: 1000, v: null }, { t: 2000, v: 8 }]);
    expect(p99.map((p) => p.v)).toEqual([null, 8]);
  });
});
