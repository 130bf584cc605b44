import { useEffect } from 'react';

import { HostOverview } from '@/features/host/components/host-overview';

export function OverviewRoute() {
  useEffect(() => {
    document.title = 'Overview · Faultline';
  }, []);
  return <HostOverview />;
}
