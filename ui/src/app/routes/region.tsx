import { useParams } from 'react-router';

import { Card } from '@/components/ui/card';
import { MigrationsList } from '@/features/migrations/components/migrations-list';
import { StartMigrationForm } from '@/features/migrations/components/start-migration-form';
import { useNodes } from '@/features/nodes/api/get-nodes';
import { useRegion } from '@/features/regions/api/get-region';
import { RegionDetail } from '@/features/regions/components/region-detail';
import { RegionSnapshots } from '@/features/snapshots/components/region-snapshots';
import { Authorized } from '@/lib/authorization';

import { useTitle } from './use-title';

/** A region's page: the region itself, its snapshots and its migrations. */
export function RegionRoute() {
  const { id = '' } = useParams();
  const region = useRegion(id);
  const nodes = useNodes();
  useTitle(region.data ? `Region ${region.data.name}` : 'Region');
  const attached = region.data?.state === 'ATTACHED';
  return (
    <div className="page">
      <RegionDetail id={id} />
      {region.data ? (
        <>
          <RegionSnapshots regionId={id} attached={attached} />
          <Card title="Migrations">
            <div className="form-stack">
              {nodes.data && attached ? (
                <Authorized required="OPERATOR">
                  <details>
                    <summary>Migrate this region to another node…</summary>
                    <StartMigrationForm regions={[{ id, name: region.data.name, node: region.data.node }]} regionId={id} nodes={nodes.data} />
                  </details>
                </Authorized>
              ) : null}
              <MigrationsList regionId={id} unavailable={<p className="empty">This service does not migrate regions yet.</p>} />
            </div>
          </Card>
        </>
      ) : null}
    </div>
  );
}
