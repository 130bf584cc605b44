import { Link } from 'react-router';

import { Button } from '@/components/ui/button';
import { ErrorMessage } from '@/components/ui/error-message';
import { paths } from '@/config/paths';
import { isProblem } from '@/lib/api-client';
import { formatMillis } from '@/lib/format';

import { useSnapshot } from '../api/get-snapshot';
import { useTakeSnapshot } from '../api/take-snapshot';
import { isActive } from '../api/types';
import { StateBadge } from './snapshot-state-badge';

/**
 * "Take snapshot now" for one region, then follows the job until it ends and says how it ended:
 * COMPLETED with its size, or FAILED with the engine's reason, in words.
 */
export function TakeSnapshotButton({ regionId, disabled }: { regionId: string; disabled?: boolean }) {
  const take = useTakeSnapshot();
  const job = useSnapshot(take.data?.id ?? null);
  const snapshot = job.data ?? take.data;
  const running = snapshot ? isActive(snapshot.state) : false;

  return (
    <div className="form-stack">
      <div className="toolbar">
        <Button
          variant="primary"
          busy={take.isPending || running}
          disabled={disabled}
          onClick={() => take.mutate({ regionId })}
        >
          {running ? 'Snapshot running…' : 'Take snapshot now'}
        </Button>
      </div>
      {take.isError ? (
        <ErrorMessage
          error={take.error}
          title={isProblem(take.error, 'snapshot-in-progress') ? 'A snapshot of this region is already running' : 'Could not start the snapshot'}
        />
      ) : null}
      {snapshot ? (
        <div
          className={`notice ${snapshot.state === 'FAILED' ? 'notice--warn' : snapshot.state === 'COMPLETED' ? 'notice--ok' : ''}`}
          role="status"
          data-testid="snapshot-job"
          data-state={snapshot.state}
        >
          <p>
            Snapshot <Link to={paths.snapshot(snapshot.id)}>{snapshot.id.slice(0, 8)}</Link> ({snapshot.kind}){' '}
            <StateBadge state={snapshot.state} />
            {snapshot.durationMs !== null ? <span className="muted"> after {formatMillis(snapshot.durationMs)}</span> : null}
          </p>
          {running ? <p className="muted">Following the job…</p> : null}
          {snapshot.state === 'FAILED' ? (
            <p data-testid="snapshot-job-error">
              <strong>Why it failed:</strong> {snapshot.error ?? 'the service gave no reason'}
            </p>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}
