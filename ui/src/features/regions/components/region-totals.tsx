import { Sparkline } from '@/components/ui/line-chart';
import { formatBytes, formatCount, formatRate } from '@/lib/format';
import { useSamples } from '@/lib/use-samples';

import { useRegionTotals } from '../api/get-region-totals';

/**
 * Tiles for the overview: regions attached, bytes they manage, and faults per second computed
 * from the growth of the fault counters between two polls. The service counts them, so the
 * overview costs the same with five regions or five thousand.
 */
export function RegionTotals() {
  const totals = useRegionTotals(3_000);
  const faults = totals.data?.faults;
  const samples = useSamples(faults, totals.dataUpdatedAt, 'all');
  const points = samples.slice(1).map((sample, i) => {
    const before = samples[i]!;
    const seconds = (sample.t - before.t) / 1000;
    const delta = sample.value - before.value;
    // A region that detached takes its counts along: that is no negative rate.
    return { t: sample.t, v: seconds > 0 && delta >= 0 ? delta / seconds : null };
  });
  const latest = points.length ? points[points.length - 1]!.v : null;

  return (
    <>
      <div className="tile">
        <dt>Regions attached</dt>
        <dd>
          {totals.data ? formatCount(totals.data.attached) : '—'}{' '}
          {totals.data ? <small>of {formatCount(totals.data.total)}</small> : null}
        </dd>
      </div>
      <div className="tile">
        <dt>Bytes managed</dt>
        <dd>{totals.data ? formatBytes(totals.data.bytesAttached) : '—'}</dd>
      </div>
      <div className="tile">
        <dt>Faults/s</dt>
        <dd>
          {latest === null ? <small>measuring…</small> : formatRate(latest, '')}{' '}
          <Sparkline points={points} label="Faults per second, recent trend" />
        </dd>
      </div>
    </>
  );
}
