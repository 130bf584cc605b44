import { useEffect } from 'react';

import { paths } from '@/config/paths';
import { RecentEvents } from '@/features/events/components/recent-events';
import { HostOverview } from '@/features/host/components/host-overview';
import { MigrationTotals } from '@/features/migrations/components/migration-totals';
import { NodesCard } from '@/features/nodes/components/nodes-card';
import { RegionTotals } from '@/features/regions/components/region-totals';
import { SnapshotTotals } from '@/features/snapshots/components/snapshot-totals';

/** Where an event's subject lives in the UI, if it has a page. */
export function subjectPath(subjectType: string, subjectId: string): string | null {
  switch (subjectType) {
    case 'region':
      return paths.region(subjectId);
    case 'restore':
      return paths.restores;
    case 'snapshot':
      return paths.snapshot(subjectId);
    case 'policy':
      return paths.policy(subjectId);
    case 'migration':
      return paths.migration(subjectId);
    default:
      return null;
  }
}

export function OverviewRoute() {
  useEffect(() => {
    document.title = 'Overview · Faultline';
  }, []);
  return (
    <HostOverview
      summary={
        <dl className="tiles" aria-label="Totals">
          <RegionTotals />
          <SnapshotTotals />
          <MigrationTotals />
        </dl>
      }
      beforeProbes={
        <>
          <NodesCard />
          <RecentEvents linkTo={subjectPath} />
        </>
      }
    />
  );
}
