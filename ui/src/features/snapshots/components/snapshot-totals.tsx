import { formatCount } from '@/lib/format';

import { useSnapshots } from '../api/get-snapshots';

/** Overview tiles: snapshots in the catalog, and snapshot jobs running now. */
export function SnapshotTotals() {
  const all = useSnapshots({ size: 1 });
  const active = useSnapshots({ states: ['PENDING', 'RUNNING'], size: 1 });
  return (
    <>
      <div className="tile">
        <dt>Snapshots</dt>
        <dd>{all.data ? formatCount(all.data.totalItems) : '—'}</dd>
      </div>
      <div className="tile">
        <dt>Snapshot jobs active</dt>
        <dd>{active.data ? formatCount(active.data.totalItems) : '—'}</dd>
      </div>
    </>
  );
}
