import { useParams } from 'react-router';

import { Card } from '@/components/ui/card';
import { MigrationDetail } from '@/features/migrations/components/migration-detail';
import { MigrationsList } from '@/features/migrations/components/migrations-list';
import { StartMigrationForm } from '@/features/migrations/components/start-migration-form';
import { useNodes } from '@/features/nodes/api/get-nodes';
import { useRegions } from '@/features/regions/api/get-regions';
import { Authorized } from '@/lib/authorization';

import { useTitle } from './use-title';

const unavailable = (
  <div className="notice">
    <p>
      This service does not offer live migration yet (<code>/api/v1/migrations</code> answers 404). The page starts
      working as soon as it does; nothing to configure here.
    </p>
  </div>
);

export function MigrationsRoute() {
  useTitle('Migrations');
  const nodes = useNodes();
  const regions = useRegions({ state: 'ATTACHED', size: 500 }, 10_000);
  return (
    <div className="page">
      <div className="page-header">
        <h1>Migrations</h1>
        <p className="muted">Postcopy live migration of a region to another node.</p>
      </div>
      {nodes.data ? (
        <Authorized required="OPERATOR">
          <Card title="Start a migration">
            <StartMigrationForm regions={regions.data?.items.map((r) => ({ id: r.id, name: r.name, node: r.node })) ?? []} nodes={nodes.data} />
          </Card>
        </Authorized>
      ) : null}
      <Card title="Jobs">
        <MigrationsList unavailable={unavailable} />
      </Card>
    </div>
  );
}

export function MigrationRoute() {
  const { id = '' } = useParams();
  useTitle('Migration');
  return <MigrationDetail id={id} />;
}
