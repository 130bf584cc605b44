import { useParams } from 'react-router';

import { SnapshotDetail } from '@/features/snapshots/components/snapshot-detail';
import { SnapshotsPage } from '@/features/snapshots/components/snapshots-page';

import { useTitle } from './use-title';

export function SnapshotsRoute() {
  useTitle('Snapshots');
  return <SnapshotsPage />;
}

export function SnapshotRoute() {
  const { id = '' } = useParams();
  useTitle(`Snapshot ${id.slice(0, 8)}`);
  return <SnapshotDetail id={id} />;
}
