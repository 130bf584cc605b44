import { formatCount } from '@/lib/format';

import { useMigrations } from '../api/get-migrations';

/** Overview tile: migrations running now; nothing while the service has no migrations API. */
export function MigrationTotals() {
  const running = useMigrations({ size: 100 });
  if (!running.data) return null;
  const active = running.data.items.filter((job) => !['COMPLETED', 'FAILED', 'CANCELLED'].includes(job.phase)).length;
  return (
    <div className="tile">
      <dt>Migrations active</dt>
      <dd>{formatCount(active)}</dd>
    </div>
  );
}
