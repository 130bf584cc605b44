import { RegionsList } from '@/features/regions/components/regions-list';

import { useTitle } from './use-title';

export function RegionsRoute() {
  useTitle('Regions');
  return (
    <div className="page">
      <div className="page-header">
        <h1>Regions</h1>
        <p className="muted">Address ranges whose faults the agent serves. New regions appear here as workloads attach.</p>
      </div>
      <RegionsList />
    </div>
  );
}
