import { Link } from 'react-router';

import { Badge, type BadgeTone } from '@/components/ui/badge';
import { Button } from '@/components/ui/button';
import { Card } from '@/components/ui/card';
import { ConfirmAction } from '@/components/ui/confirm-action';
import { ErrorMessage } from '@/components/ui/error-message';
import { ProgressBar } from '@/components/ui/progress-bar';
import { paths } from '@/config/paths';
import { isApiError, isProblem } from '@/lib/api-client';
import { Authorized } from '@/lib/authorization';
import { formatBytes, formatCount, formatDateTime, formatMillis, formatNanos } from '@/lib/format';

import { useCancelMigration } from '../api/cancel-migration';
import { useMigration } from '../api/get-migration';
import { usePauseMigration } from '../api/pause-migration';
import { useResumeMigration } from '../api/resume-migration';
import { useStartPostcopy } from '../api/start-postcopy';
import { isRunning, type Migration, type MigrationPhase, migrationPageSize, type MigrationThrottle, pastSwitchover } from '../api/types';
import { PhaseTimeline } from './phase-timeline';

import './migrations.css';

export const phaseTones: Record<MigrationPhase, BadgeTone> = {
  PENDING: 'info',
  PRECOPY: 'info',
  SWITCHOVER: 'warn',
  POSTCOPY: 'warn',
  COMPLETED: 'ok',
  PAUSED: 'warn',
  FAILED: 'danger',
  CANCELLED: 'neutral',
};

const rate = (bytesPerSecond: number) => `${formatBytes(bytesPerSecond)}/s`;

function Stat({ label, value, hint }: { label: string; value: React.ReactNode; hint?: React.ReactNode }) {
  return (
    <div className="tile">
      <dt>{label}</dt>
      <dd>
        {value}
        {hint ? (
          <>
            {' '}
            <small>{hint}</small>
          </>
        ) : null}
      </dd>
    </div>
  );
}

function Actions({ job }: { job: Migration }) {
  const pause = usePauseMigration();
  const resume = useResumeMigration();
  const postcopy = useStartPostcopy();
  const cancel = useCancelMigration();
  const running = isRunning(job.phase);
  const past = pastSwitchover(job);
  const mutationError = pause.error ?? resume.error ?? null;
  return (
    <div className="form-stack">
      <div className="toolbar">
        {running && job.phase !== 'PENDING' ? (
          <ConfirmAction label="Pause" title={`Pause migration of ${job.regionName}?`} confirmLabel="Pause migration" action={() => pause.mutateAsync(job.id)}>
            <p>
              The job stops where it is ({job.phase}) and keeps everything transferred so far; resume continues from
              there. {past ? 'After switchover the workload runs on the destination, and pages it still misses wait until the job resumes.' : 'The workload keeps running on the source.'}
            </p>
          </ConfirmAction>
        ) : null}
        {job.phase === 'PAUSED' ? (
          <Button variant="primary" busy={resume.isPending} onClick={() => resume.mutate(job.id)}>
            Resume
          </Button>
        ) : null}
        {job.phase === 'PRECOPY' ? (
          <ConfirmAction
            label="Start postcopy now"
            title="Switch over now?"
            confirmLabel="Start postcopy"
            action={() => postcopy.mutateAsync(job.id)}
            renderError={(error) =>
              isProblem(error, 'migration-wrong-phase') ? (
                <div className="notice notice--warn" role="alert">
                  <p>The job is no longer in PRECOPY, so it cannot switch over now. {error.detail}</p>
                </div>
              ) : (
                <ErrorMessage error={error} title="Could not start postcopy" />
              )
            }
          >
            <p>
              The workload pauses for the switchover (downtime), then runs on {job.destinationNode}; pages not yet copied
              ({formatBytes(job.stats.remainingBytes)}) are fetched on demand. After this the migration cannot be
              cancelled.
            </p>
          </ConfirmAction>
        ) : null}
        {running || job.phase === 'PAUSED' ? (
          <ConfirmAction
            label="Cancel migration"
            variant="danger"
            title={`Cancel migration of ${job.regionName}?`}
            confirmLabel="Cancel migration"
            action={() => cancel.mutateAsync(job.id)}
            renderError={(error) =>
              isProblem(error, 'migration-past-switchover') ? (
                <div className="notice notice--warn" role="alert">
                  <p>
                    <strong>Refused: the job has already switched over.</strong> The destination now holds pages the
                    source does not have, so going back would lose writes. Let the job finish, or if it is stuck, pause
                    and resume it (recovery), not cancel.
                  </p>
                  <p className="muted">{error.detail}</p>
                </div>
              ) : (
                <ErrorMessage error={error} title="Could not cancel the migration" />
              )
            }
          >
            {past ? (
              <p className="notice notice--warn">
                This job has switched over: the service will refuse to cancel it, because the source no longer has the
                latest pages.
              </p>
            ) : (
              <p>The job stops and the region stays on {job.sourceNode}, untouched. What was copied is discarded.</p>
            )}
          </ConfirmAction>
        ) : null}
      </div>
      {mutationError ? <ErrorMessage error={mutationError} title="The service refused" /> : null}
    </div>
  );
}

/** What auto-converge did to the source's workload, in one line. */
function throttleText(t: MigrationThrottle): string {
  const held = t.throttledMs ? ` · workload held ${formatMillis(t.throttledMs)} in all` : '';
  switch (t.state) {
    case 'throttling':
      return `Auto-converge: the workload is stopped ${t.pct}% of every 100 ms${held}`;
    case 'stopped':
      return `Auto-converge ended${t.pct ? `, last at ${t.pct}% of every 100 ms` : ''}${held}`;
    case 'unavailable':
      return 'Auto-converge unavailable: the source agent may not stop the workload (ptrace), so it is not throttled';
    default:
      return `Auto-converge: ready, not throttling (the rounds converge or the job is paused)${held}`;
  }
}

export function MigrationView({ job }: { job: Migration }) {
  const s = job.stats;
  const moved = Math.max(0, s.regionBytes - s.remainingBytes);
  return (
    <div className="page">
      <div className="page-header page-header--actions">
        <div className="page-header">
          <p className="muted">
            <Link to={paths.migrations}>Migrations</Link> /
          </p>
          <h1>
            {job.regionName}: {job.sourceNode} → {job.destinationNode}{' '}
            <Badge tone={phaseTones[job.phase] ?? 'neutral'}>{job.phase === 'PAUSED' ? `PAUSED in ${job.pausedIn ?? '?'}` : job.phase}</Badge>
          </h1>
          <p className="muted mono">{job.id}</p>
        </div>
        <Authorized required="OPERATOR">
          <Actions job={job} />
        </Authorized>
      </div>
      {job.error ? (
        <div className="notice notice--warn" role="alert">
          <p>
            <strong>The migration failed:</strong> {job.error}
          </p>
        </div>
      ) : null}
      <Card title="Phases">
        <PhaseTimeline job={job} />
      </Card>
      <Card title="Progress" aside={<span className="muted">{formatMillis(s.totalMs)} so far</span>}>
        <div className="form-stack">
          <ProgressBar
            label="Bytes transferred"
            value={moved}
            max={s.regionBytes}
            valueText={`${formatBytes(moved)} of ${formatBytes(s.regionBytes)}, ${formatBytes(s.remainingBytes)} remaining`}
            tone={job.phase === 'COMPLETED' ? 'ok' : job.phase === 'FAILED' ? 'danger' : 'accent'}
          />
          <dl className="tiles">
            <Stat label="Remaining" value={formatBytes(s.remainingBytes)} />
            <Stat label="Dirty rate" value={rate(s.dirtyRateBytesPerSec)} hint={`round ${s.rounds} of ${job.options.maxPrecopyRounds}`} />
            <Stat label="Throughput" value={rate(s.throughputBytesPerSec)} />
            <Stat label="Downtime" value={s.downtimeMs === null ? '—' : formatMillis(s.downtimeMs)} hint={`target ≤ ${job.options.maxDowntimeMs} ms`} />
            <Stat label="Demand faults" value={formatCount(s.transferred.demandPages)} hint={`${formatCount(s.postcopyRequests)} requests`} />
            <Stat label="Demand latency" value={s.demandLatency.count ? formatNanos(s.demandLatency.p99Ns) : '—'} hint={s.demandLatency.count ? `p99 · p50 ${formatNanos(s.demandLatency.p50Ns)}` : undefined} />
          </dl>
          <p className="muted" style={{ margin: 0 }}>
            Precopy {formatBytes(s.transferred.precopyBytes)} · postcopy push {formatBytes(s.transferred.postcopyBytes)} · on demand{' '}
            {formatBytes(s.transferred.demandBytes)} · threads blocked {formatNanos(s.blockedNs)}
          </p>
          {s.transferred.compressedPages > 0 ? (
            <p className="muted" style={{ margin: 0 }} data-testid="compression">
              Compressed {formatCount(s.transferred.compressedPages)} pages ({formatBytes(s.transferred.compressedPages * migrationPageSize)}) into{' '}
              {formatBytes(s.transferred.compressedBytes)}: saved {formatBytes(Math.max(0, s.transferred.compressedPages * migrationPageSize - s.transferred.compressedBytes))}
            </p>
          ) : null}
          {s.transferred.unchangedPages > 0 ? (
            <p className="muted" style={{ margin: 0 }} data-testid="unchanged">
              Unchanged {formatCount(s.transferred.unchangedPages)} pages ({formatBytes(s.transferred.unchangedPages * migrationPageSize)}): written again
              with the bytes last sent, so not sent again
            </p>
          ) : null}
          {s.pushConnections !== null && s.pushConnections < job.options.pushConnections ? (
            <p className="muted" style={{ margin: 0 }} data-testid="push-connections">
              Pages pushed on {s.pushConnections} of the {job.options.pushConnections} connections asked for: the destination agent takes no more
            </p>
          ) : null}
          {s.throttle ? (
            <p className="muted" style={{ margin: 0 }} data-testid="throttle">
              {throttleText(s.throttle)}
            </p>
          ) : null}
        </div>
      </Card>
      <Card title="Job">
        <dl className="facts">
          <div>
            <dt>Region</dt>
            <dd>
              <Link to={paths.region(job.regionId)}>{job.regionName}</Link>
              {job.destinationRegionId ? (
                <>
                  {' '}
                  → <Link to={paths.region(job.destinationRegionId)}>destination region</Link>
                </>
              ) : null}
            </dd>
          </div>
          {job.destinationSocket && !job.destinationRegionId ? (
            <div>
              <dt>Destination socket</dt>
              <dd>
                <span className="mono" data-testid="destination-socket">{job.destinationSocket}</span>
                <br />
                <small className="muted">Start the destination workload on it; it attaches by region name ({job.regionName}).</small>
              </dd>
            </div>
          ) : null}
          <div>
            <dt>Options</dt>
            <dd>
              max downtime {job.options.maxDowntimeMs} ms · bandwidth{' '}
              {job.options.bandwidthLimitBytesPerSec ? rate(job.options.bandwidthLimitBytesPerSec) : 'unlimited'} · ≤ {job.options.maxPrecopyRounds}{' '}
              precopy rounds · postcopy {job.options.postcopy}
              {job.options.postcopy === 'auto' ? ` (after ${formatMillis(job.options.postcopyAfterMs)} at most)` : ''} · compression{' '}
              {job.options.compress} · auto-converge {job.options.autoConverge ? 'on' : 'off'} · unchanged pages{' '}
              {job.options.skipUnchanged ? 'skipped' : 'sent again'} · push connections {job.options.pushConnections}
            </dd>
          </div>
          <div>
            <dt>Created</dt>
            <dd>{formatDateTime(job.createdAt)}</dd>
          </div>
          <div>
            <dt>Switched over</dt>
            <dd>{job.switchoverAt ? formatDateTime(job.switchoverAt) : '—'}</dd>
          </div>
        </dl>
      </Card>
    </div>
  );
}

export function MigrationDetail({ id }: { id: string }) {
  const job = useMigration(id);
  if (job.isPending) return <p role="status">Loading migration…</p>;
  if (!job.data) {
    return (
      <ErrorMessage
        error={job.error}
        title={isApiError(job.error) && job.error.status === 404 ? 'No such migration (or the service has no migrations yet)' : 'Could not load the migration'}
      />
    );
  }
  return <MigrationView job={job.data} />;
}
