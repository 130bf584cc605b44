import { useState } from 'react';

import { Card } from '@/components/ui/card';
import { Authorized } from '@/lib/authorization';

import { SnapshotsTable } from './snapshots-table';
import { TakeSnapshotButton } from './take-snapshot-button';

/** A region's snapshots, with "take one now" for operators. */
export function RegionSnapshots({ regionId, attached }: { regionId: string; attached: boolean }) {
  const [page, setPage] = useState(0);
  return (
    <Card title="Snapshots">
      <div className="form-stack">
        <Authorized required="OPERATOR">
          <TakeSnapshotButton regionId={regionId} disabled={!attached} />
        </Authorized>
        <SnapshotsTable filter={{ regionId, page, size: 10 }} onPage={setPage} showRegion={false} />
      </div>
    </Card>
  );
}
