import type { Sample } from '@/lib/use-samples';

import { type RegionStats, totalFaults } from '../api/types';

export type SeriesPoint = { t: number; v: number | null };

/**
 * Faults per second between successive samples. A counter that went down means the region was
 * re-attached (its counters restarted): no rate for that interval rather than a negative one.
 */
export function faultRate(samples: readonly Sample<RegionStats | null>[]): SeriesPoint[] {
  const points: SeriesPoint[] = [];
  for (let i = 1; i < samples.length; i += 1) {
    const before = samples[i - 1]!;
    const after = samples[i]!;
    const seconds = (after.t - before.t) / 1000;
    if (!before.value || !after.value || seconds <= 0) {
      points.push({ t: after.t, v: null });
      continue;
    }
    const delta = totalFaults(after.value) - totalFaults(before.value);
    points.push({ t: after.t, v: delta < 0 ? null : delta / seconds });
  }
  return points;
}

/**
 * The q-quantile (0..1) of the latencies recorded between two snapshots of the histogram, as
 * the upper bound of the bucket it falls in (bucket i holds [2^i, 2^(i+1)) ns). Null when no
 * fault happened in between.
 */
export function intervalQuantile(before: readonly number[], after: readonly number[], q: number): number | null {
  const deltas = after.map((count, i) => Math.max(0, count - (before[i] ?? 0)));
  const total = deltas.reduce((sum, count) => sum + count, 0);
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let i = 0; i < deltas.length; i += 1) {
    seen += deltas[i]!;
    if (seen >= rank) return 2 ** (i + 1);
  }
  return 2 ** deltas.length;
}

/** p50 and p99 of each interval between samples, from the latency histogram's growth. */
export function intervalLatency(samples: readonly Sample<RegionStats | null>[]): { p50: SeriesPoint[]; p99: SeriesPoint[] } {
  const p50: SeriesPoint[] = [];
  const p99: SeriesPoint[] = [];
  for (let i = 1; i < samples.length; i += 1) {
    const before = samples[i - 1]!.value;
    const after = samples[i]!.value;
    const t = samples[i]!.t;
    const restarted = !before || !after || after.latency.count < before.latency.count;
    p50.push({ t, v: restarted ? null : intervalQuantile(before.latencyBuckets, after.latencyBuckets, 0.5) });
    p99.push({ t, v: restarted ? null : intervalQuantile(before.latencyBuckets, after.latencyBuckets, 0.99) });
  }
  return { p50, p99 };
}
