import { useState } from 'react';
import { Link } from 'react-router';

import { Badge } from '@/components/ui/badge';
import { ErrorMessage } from '@/components/ui/error-message';
import { Pagination } from '@/components/ui/pagination';
import { ProgressBar } from '@/components/ui/progress-bar';
import { paths } from '@/config/paths';
import { formatAge, formatBytes } from '@/lib/format';

import { useMigrations } from '../api/get-migrations';
import { phaseTones } from './migration-detail';

/** Migration jobs, newest first; `unavailable` renders when the service has no migrations API. */
export function MigrationsList({ regionId, unavailable }: { regionId?: string; unavailable: React.ReactNode }) {
  const [page, setPage] = useState(0);
  const jobs = useMigrations({ regionId, page, size: 20 });
  if (jobs.isPending) return <p role="status">Loading migrations…</p>;
  if (jobs.isError) return <ErrorMessage error={jobs.error} title="Could not load migrations" />;
  if (jobs.data === null) return <>{unavailable}</>;
  if (jobs.data.items.length === 0) return <p className="empty">No migrations yet.</p>;
  return (
    <>
      <div className="table-scroll">
        <table className="data-table">
          <caption className="visually-hidden">Migrations</caption>
          <thead>
            <tr>
              <th scope="col">Region</th>
              <th scope="col">Route</th>
              <th scope="col">Phase</th>
              <th scope="col">Progress</th>
              <th scope="col">Started</th>
            </tr>
          </thead>
          <tbody>
            {jobs.data.items.map((job) => (
              <tr key={job.id}>
                <th scope="row">
                  <Link to={paths.migration(job.id)}>{job.regionName}</Link>
                </th>
                <td>
                  {job.sourceNode} → {job.destinationNode}
                </td>
                <td>
                  <Badge tone={phaseTones[job.phase] ?? 'neutral'}>{job.phase}</Badge>
                </td>
                <td>
                  <ProgressBar
                    label={`Progress of the migration of ${job.regionName}`}
                    value={job.stats.regionBytes - job.stats.remainingBytes}
                    max={job.stats.regionBytes}
                    valueText={`${formatBytes(job.stats.remainingBytes)} remaining`}
                  />
                </td>
                <td>{formatAge(job.createdAt)} ago</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Pagination page={jobs.data.page} totalPages={jobs.data.totalPages} totalItems={jobs.data.totalItems} noun="migrations" onPage={setPage} />
    </>
  );
}
