import { useState } from 'react';
import { Link, useNavigate } from 'react-router';

import { Badge } from '@/components/ui/badge';
import { Button } from '@/components/ui/button';
import { Card } from '@/components/ui/card';
import { ConfirmAction } from '@/components/ui/confirm-action';
import { ErrorMessage } from '@/components/ui/error-message';
import { Pagination } from '@/components/ui/pagination';
import { paths } from '@/config/paths';
import { isApiError } from '@/lib/api-client';
import { Authorized } from '@/lib/authorization';
import { formatDateTime } from '@/lib/format';

import { useDeletePolicy } from '../api/delete-policy';
import { usePolicy } from '../api/get-policy';
import { usePolicyPreview } from '../api/get-policy-preview';
import { usePolicyRuns } from '../api/get-policy-runs';
import { usePausePolicy } from '../api/pause-policy';
import { useResumePolicy } from '../api/resume-policy';
import { formatInZone } from './next-runs-preview';
import { describeRetention } from './policies-list';

import './policies.css';

function Preview({ id }: { id: string }) {
  const preview = usePolicyPreview(id);
  if (preview.isPending) return <p role="status">Loading preview…</p>;
  if (preview.isError) return <ErrorMessage error={preview.error} title="Could not load the preview" />;
  const p = preview.data;
  return (
    <div className="grid-2">
      <Card title="Next runs">
        {p.paused ? <p className="notice notice--warn">Paused: none of these runs until the policy is resumed.</p> : null}
        <ol aria-label="Next runs from the service" style={{ margin: 0, paddingLeft: '1.3rem' }}>
          {p.nextRuns.map((run) => (
            <li key={run.utc}>
              <time dateTime={run.utc}>{formatInZone(run.utc, p.timeZone)}</time> <span className="muted mono">{run.at}</span>
            </li>
          ))}
        </ol>
      </Card>
      <Card title="Retention today" aside={<span className="muted">dry run at {formatDateTime(p.retention.evaluatedAt)}</span>}>
        <p style={{ marginTop: 0 }}>
          Would keep <strong>{p.retention.keep}</strong> and prune <strong>{p.retention.prune}</strong> of this policy’s snapshots.
        </p>
        {p.retention.snapshots.length === 0 ? (
          <p className="empty">This policy has no snapshots yet.</p>
        ) : (
          <div className="table-scroll">
            <table className="data-table">
              <caption className="visually-hidden">Retention decision per snapshot</caption>
              <thead>
                <tr>
                  <th scope="col">Snapshot</th>
                  <th scope="col">Decision</th>
                  <th scope="col">Why</th>
                </tr>
              </thead>
              <tbody>
                {p.retention.snapshots.map((s) => (
                  <tr key={s.snapshotId} className={`decision--${s.decision}`}>
                    <th scope="row">
                      <Link to={paths.snapshot(s.snapshotId)}>{s.regionName}</Link>
                      <div className="muted">
                        {formatDateTime(s.createdAt)} · {s.kind} · {s.state}
                      </div>
                    </th>
                    <td>
                      <Badge tone={s.decision === 'KEEP' ? 'ok' : 'danger'}>{s.decision}</Badge>
                    </td>
                    <td>{s.reasons.join('; ') || '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </div>
  );
}

function Runs({ id }: { id: string }) {
  const [page, setPage] = useState(0);
  const runs = usePolicyRuns(id, page);
  return (
    <Card title="Runs">
      {runs.isPending ? <p role="status">Loading runs…</p> : null}
      {runs.isError ? <ErrorMessage error={runs.error} title="Could not load runs" /> : null}
      {runs.data?.items.length === 0 ? <p className="empty">The policy has not run yet.</p> : null}
      {runs.data && runs.data.items.length > 0 ? (
        <>
          <div className="table-scroll">
            <table className="data-table">
              <caption className="visually-hidden">Runs of this policy</caption>
              <thead>
                <tr>
                  <th scope="col">Fire time</th>
                  <th scope="col">Region</th>
                  <th scope="col">Outcome</th>
                </tr>
              </thead>
              <tbody>
                {runs.data.items.map((run, i) => (
                  <tr key={`${run.fireTime}-${run.regionId ?? i}`}>
                    <th scope="row">{formatDateTime(run.fireTime)}</th>
                    <td>{run.regionId ? <Link to={paths.region(run.regionId)}>{run.regionName}</Link> : '—'}</td>
                    <td>
                      {run.snapshotId ? (
                        <>
                          {run.kind} snapshot <Link to={paths.snapshot(run.snapshotId)}>{run.snapshotId.slice(0, 8)}</Link>
                        </>
                      ) : (
                        <span className="muted">{run.skippedReason}</span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pagination page={runs.data.page} totalPages={runs.data.totalPages} totalItems={runs.data.totalItems} noun="runs" onPage={setPage} />
        </>
      ) : null}
    </Card>
  );
}

export function PolicyDetail({ id }: { id: string }) {
  const policy = usePolicy(id);
  const pause = usePausePolicy();
  const resume = useResumePolicy();
  const remove = useDeletePolicy();
  const navigate = useNavigate();

  if (policy.isPending) return <p role="status">Loading policy…</p>;
  if (!policy.data) {
    return (
      <ErrorMessage
        error={policy.error}
        title={isApiError(policy.error) && policy.error.status === 404 ? 'No such policy' : 'Could not load the policy'}
      />
    );
  }
  const p = policy.data;
  const toggle = p.paused ? resume : pause;
  return (
    <div className="page">
      <div className="page-header page-header--actions">
        <div className="page-header">
          <p className="muted">
            <Link to={paths.policies}>Policies</Link> /
          </p>
          <h1>
            {p.name} {p.paused ? <Badge tone="warn">paused</Badge> : <Badge tone="ok">active</Badge>}
          </h1>
        </div>
        <Authorized required="OPERATOR">
          <div className="toolbar">
            <Button busy={toggle.isPending} onClick={() => toggle.mutate(p.id)}>
              {p.paused ? 'Resume' : 'Pause'}
            </Button>
            <Link className="button button--secondary" to={paths.editPolicy(p.id)}>
              Edit
            </Link>
            <ConfirmAction
              label="Delete…"
              variant="danger"
              title={`Delete policy ${p.name}?`}
              confirmLabel="Delete policy"
              action={() => remove.mutateAsync({ id: p.id, etag: p.etag }).then(() => navigate(paths.policies))}
            >
              <p>The policy and its run history go. Its snapshots stay, and are no longer pruned by it.</p>
            </ConfirmAction>
          </div>
        </Authorized>
      </div>
      {toggle.isError ? <ErrorMessage error={toggle.error} title={`Could not ${p.paused ? 'resume' : 'pause'} the policy`} /> : null}
      <Card title="Definition">
        <dl className="facts">
          <div>
            <dt>Selector</dt>
            <dd className="mono">{p.selector || <span className="muted">every region</span>}</dd>
          </div>
          <div>
            <dt>Schedule</dt>
            <dd>
              <code>{p.schedule}</code> in {p.timeZone}
            </dd>
          </div>
          <div>
            <dt>Full every</dt>
            <dd>{p.fullEvery === 1 ? 'every snapshot is FULL' : `${p.fullEvery}th snapshot (the others INCREMENTAL)`}</dd>
          </div>
          <div>
            <dt>Retention</dt>
            <dd>{describeRetention(p.retention)}</dd>
          </div>
          <div>
            <dt>Quiesce</dt>
            <dd>{p.requireQuiesce ? 'required' : 'not required'}</dd>
          </div>
          <div>
            <dt>Last fire time</dt>
            <dd>{p.lastFireTime ? formatDateTime(p.lastFireTime) : 'never'}</dd>
          </div>
        </dl>
      </Card>
      <Preview id={p.id} />
      <Runs id={p.id} />
    </div>
  );
}
