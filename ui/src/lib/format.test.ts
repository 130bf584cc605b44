import { describe, expect, it } from 'vitest';

import { formatBytes, formatHex, formatLatency, formatNanos, formatPercent } from '@/lib/format';

describe('format', () => {
  it('prints bytes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(4096)).toBe('4 KiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(268435456)).toBe('256 MiB');
    expect(formatBytes(2147483648)).toBe('2 GiB');
    expect(formatBytes(null)).toBe('—');
  });

  it('prints addresses in hex', () => {
    expect(formatHex(0x7f3a00000000)).toBe('0x7f3a00000000');
    expect(formatHex(4096)).toBe('0x1000');
  });

  it('prints nanoseconds in the unit that reads best', () => {
    expect(formatNanos(850)).toBe('850 ns');
    expect(formatNanos(12_400)).toBe('12.4 µs');
    expect(formatNanos(3_200_000)).toBe('3.2 ms');
  });

  it('prints every latency summary the same way, leaving out percentiles that were not measured', () => {
    expect(formatLatency({ count: 3, p50Ns: 900, p99Ns: 12_400, p999Ns: null, maxNs: 3_200_000 })).toBe(
      'p50 900 ns · p99 12.4 µs · max 3.2 ms',
    );
    expect(formatLatency({ count: 3, p50Ns: null, p99Ns: null, p999Ns: 80_000, maxNs: 120_000 })).toBe(
      'p99.9 80 µs · max 120 µs',
    );
    expect(formatLatency({ count: 0, p50Ns: 0, p99Ns: 0, p999Ns: null, maxNs: 0 })).toBe('—');
    expect(formatLatency(null)).toBe('—');
  });

  it('never rounds an unfinished fraction up to 100 %', () => {
    expect(formatPercent(0.9996)).toBe('99.9 %');
    expect(formatPercent(1)).toBe('100 %');
    expect(formatPercent(0.25)).toBe('25 %');
  });
});
