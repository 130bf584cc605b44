import { Link } from 'react-router';

import { Badge } from '@/components/ui/badge';
import { ErrorMessage } from '@/components/ui/error-message';
import { Pagination } from '@/components/ui/pagination';
import { paths } from '@/config/paths';
import { formatAge, formatBytes } from '@/lib/format';

import { useSnapshots } from '../api/get-snapshots';
import type { SnapshotFilter } from '../api/types';
import { StateBadge } from './snapshot-state-badge';

/** Snapshots matching a filter, newest first, each linking to its page. */
export function SnapshotsTable({
  filter,
  onPage,
  showRegion = true,
}: {
  filter: SnapshotFilter;
  onPage: (page: number) => void;
  showRegion?: boolean;
}) {
  const snapshots = useSnapshots(filter);
  if (snapshots.isPending) return <p role="status">Loading snapshots…</p>;
  if (snapshots.isError && !snapshots.data) return <ErrorMessage error={snapshots.error} title="Could not load snapshots" />;
  const page = snapshots.data!;
  if (page.items.length === 0) return <p className="empty">No snapshots match.</p>;
  return (
    <>
      <div className="table-scroll">
        <table className="data-table">
          <caption className="visually-hidden">Snapshots</caption>
          <thead>
            <tr>
              <th scope="col">Snapshot</th>
              {showRegion ? <th scope="col">Region</th> : null}
              <th scope="col">State</th>
              <th scope="col">Kind</th>
              <th scope="col" className="num">Size</th>
              <th scope="col">Verified</th>
              <th scope="col">Taken by</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((snapshot) => (
              <tr key={snapshot.id}>
                <th scope="row">
                  <Link to={paths.snapshot(snapshot.id)} className="mono">
                    {snapshot.id.slice(0, 8)}
                  </Link>
                  <div className="muted">{formatAge(snapshot.createdAt)} ago</div>
                </th>
                {showRegion ? (
                  <td>
                    <Link to={paths.region(snapshot.regionId)}>{snapshot.regionName}</Link>
                  </td>
                ) : null}
                <td>
                  <StateBadge state={snapshot.state} />
                  {snapshot.error ? <div className="field__error">{snapshot.error}</div> : null}
                </td>
                <td>
                  {snapshot.kind}
                  {snapshot.parentId ? (
                    <div className="muted">
                      on <Link to={paths.snapshot(snapshot.parentId)}>{snapshot.parentId.slice(0, 8)}</Link>
                    </div>
                  ) : null}
                </td>
                <td className="num">{formatBytes(snapshot.sizeBytes)}</td>
                <td>
                  {snapshot.verification ? (
                    <Badge tone={snapshot.verification.state === 'VERIFIED' ? 'ok' : snapshot.verification.state === 'CORRUPT' ? 'danger' : 'neutral'}>
                      {snapshot.verification.state}
                    </Badge>
                  ) : (
                    '—'
                  )}
                </td>
                <td>{snapshot.requestedBy}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Pagination page={page.page} totalPages={page.totalPages} totalItems={page.totalItems} noun="snapshots" onPage={onPage} />
    </>
  );
}
