import { Sparkline } from '@/components/ui/line-chart';
import { formatBytes, formatCount, formatRate } from '@/lib/format';
import { useSamples } from '@/lib/use-samples';

import { useRegions } from '../api/get-regions';
import { totalFaults } from '../api/types';

/**
 * Tiles for the overview: regions attached, bytes they manage, and faults per second computed
 * from the growth of the fault counters between two polls.
 */
export function RegionTotals() {
  const regions = useRegions({ size: 500 }, 3_000);
  const attached = regions.data?.items.filter((region) => region.state === 'ATTACHED') ?? [];
  const faults = regions.data ? attached.reduce((sum, region) => sum + totalFaults(region.stats), 0) : undefined;
  const samples = useSamples(faults, regions.dataUpdatedAt, 'all');
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
          {regions.data ? formatCount(attached.length) : '—'}{' '}
          {regions.data ? <small>of {formatCount(regions.data.totalItems)}</small> : null}
        </dd>
      </div>
      <div className="tile">
        <dt>Bytes managed</dt>
        <dd>{regions.data ? formatBytes(attached.reduce((sum, region) => sum + region.length, 0)) : '—'}</dd>
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
