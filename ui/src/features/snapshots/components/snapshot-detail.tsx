import { type FormEvent, useState } from 'react';
import { Link } from 'react-router';

import { Badge } from '@/components/ui/badge';
import { Button } from '@/components/ui/button';
import { Card } from '@/components/ui/card';
import { ConfirmAction } from '@/components/ui/confirm-action';
import { Dialog } from '@/components/ui/dialog';
import { ErrorMessage } from '@/components/ui/error-message';
import { Fact } from '@/components/ui/fact';
import { Field } from '@/components/ui/field';
import { paths } from '@/config/paths';
import { fieldErrorOf, isApiError, isProblem } from '@/lib/api-client';
import { Authorized } from '@/lib/authorization';
import { formatBytes, formatCount, formatDateTime, formatLatency, formatMillis } from '@/lib/format';
import { parseLabels } from '@/lib/labels';

import { useDeleteSnapshot } from '../api/delete-snapshot';
import { useSnapshot } from '../api/get-snapshot';
import { useSnapshotOperations } from '../api/get-snapshot-operations';
import { useRestoreSnapshot } from '../api/restore-snapshot';
import type { Snapshot } from '../api/types';
import { useVerifySnapshot } from '../api/verify-snapshot';
import { StateBadge } from './snapshot-state-badge';

function RestoreDialog({ snapshot }: { snapshot: Snapshot }) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState('');
  const [labels, setLabels] = useState('');
  const [labelsError, setLabelsError] = useState<string | null>(null);
  const restore = useRestoreSnapshot();

  function submit(event: FormEvent) {
    event.preventDefault();
    const parsed = parseLabels(labels);
    if (parsed.error) {
      setLabelsError(parsed.error);
      return;
    }
    setLabelsError(null);
    restore.mutate({ id: snapshot.id, name: name.trim(), labels: parsed.labels }, { onSuccess: () => setOpen(false) });
  }

  return (
    <>
      <Button onClick={() => setOpen(true)} disabled={snapshot.state !== 'COMPLETED'}>
        Restore…
      </Button>
      <Dialog open={open} title={`Restore snapshot ${snapshot.id.slice(0, 8)}`} onClose={() => setOpen(false)}>
        <form className="form-stack" onSubmit={submit} noValidate>
          <p>The agent opens a restore session serving this snapshot (and its parent chain).</p>
          <Field label="Name" hint={`Empty: ${snapshot.regionName}, like the snapshot's region.`} error={fieldErrorOf(restore.error, 'name')}>
            {(control) => <input {...control} value={name} onChange={(event) => setName(event.target.value)} />}
          </Field>
          <Field label="Labels" hint="key=value, separated by commas. Empty: the snapshot's region's labels." error={labelsError ?? fieldErrorOf(restore.error, 'labels')}>
            {(control) => <input {...control} className="mono" value={labels} onChange={(event) => setLabels(event.target.value)} />}
          </Field>
          {restore.isError && !fieldErrorOf(restore.error, 'name') && !fieldErrorOf(restore.error, 'labels') ? (
            <ErrorMessage error={restore.error} title="Could not start the restore" />
          ) : null}
          <div className="toolbar">
            <Button type="submit" variant="primary" busy={restore.isPending}>
              Restore
            </Button>
            <Button onClick={() => setOpen(false)}>Cancel</Button>
          </div>
        </form>
      </Dialog>
    </>
  );
}

function DeleteAction({ snapshot }: { snapshot: Snapshot }) {
  const remove = useDeleteSnapshot();
  return (
    <ConfirmAction
      label="Delete…"
      variant="danger"
      disabled={snapshot.state === 'DELETED' || snapshot.state === 'PENDING' || snapshot.state === 'RUNNING'}
      title={`Delete snapshot ${snapshot.id.slice(0, 8)}?`}
      confirmLabel="Delete snapshot"
      action={() => remove.mutateAsync({ id: snapshot.id })}
      renderError={(error, retry) =>
        isProblem(error, 'snapshot-has-dependents') ? (
          <div className="notice notice--warn" role="alert">
            <p>
              <strong>Other snapshots depend on this one.</strong> An incremental snapshot holds only the pages
              changed since its parent, so deleting the parent would make them unusable.
            </p>
            <p className="muted">{error.detail}</p>
            <p>
              Either delete the dependent snapshots first, or <strong>consolidate</strong>: the agent folds this
              snapshot into each dependent (they become full, or incremental on the grandparent, and unverified
              again), then deletes this one. Until that has succeeded, this snapshot stays usable; if it fails,
              nothing is lost.
            </p>
            <div className="toolbar">
              <Button variant="danger" onClick={() => retry(() => remove.mutateAsync({ id: snapshot.id, consolidate: true }), 'consolidate')}>
                Consolidate into dependents, then delete
              </Button>
            </div>
          </div>
        ) : (
          <ErrorMessage error={error} title="Could not delete the snapshot" />
        )
      }
    >
      <p>
        The image is removed from disk. The catalog keeps a DELETED record of what existed. Once DELETING,
        the snapshot is never usable again.
      </p>
    </ConfirmAction>
  );
}

function Operations({ id }: { id: string }) {
  const operations = useSnapshotOperations(id);
  if (operations.isPending) return <p role="status">Loading operations…</p>;
  if (operations.isError) return <ErrorMessage error={operations.error} title="Could not load operations" />;
  if (operations.data.length === 0) return <p className="empty">No verification, restore or deletion yet.</p>;
  return (
    <div className="table-scroll">
      <table className="data-table">
        <caption className="visually-hidden">Operations on this snapshot</caption>
        <thead>
          <tr>
            <th scope="col">Operation</th>
            <th scope="col">State</th>
            <th scope="col">Outcome</th>
            <th scope="col">Requested</th>
          </tr>
        </thead>
        <tbody>
          {operations.data.map((op) => (
            <tr key={op.id} data-operation={op.kind}>
              <th scope="row">
                {op.kind}
                {op.consolidate ? <span className="muted"> with consolidation</span> : null}
              </th>
              <td>
                <StateBadge state={op.state} />
              </td>
              <td>
                {op.error ? <span className="field__error">{op.error}</span> : null}
                {op.result ? <span>{op.result}</span> : null}
                {op.restoreId ? (
                  <div>
                    <Link to={paths.restores}>restore session {op.restoreId.slice(0, 8)}</Link>
                  </div>
                ) : null}
                {!op.error && !op.result && !op.restoreId ? <span className="muted">—</span> : null}
              </td>
              <td>
                {formatDateTime(op.requestedAt)} <span className="muted">by {op.requestedBy}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function SnapshotDetail({ id }: { id: string }) {
  const snapshot = useSnapshot(id);
  const verify = useVerifySnapshot();
  if (snapshot.isPending) return <p role="status">Loading snapshot…</p>;
  if (!snapshot.data) {
    return (
      <ErrorMessage
        error={snapshot.error}
        title={isApiError(snapshot.error) && snapshot.error.status === 404 ? 'No such snapshot' : 'Could not load the snapshot'}
      />
    );
  }
  const s = snapshot.data;
  return (
    <div className="page">
      <div className="page-header page-header--actions">
        <div className="page-header">
          <p className="muted">
            <Link to={paths.snapshots}>Snapshots</Link> /
          </p>
          <h1>
            Snapshot <span className="mono">{s.id.slice(0, 8)}</span> <StateBadge state={s.state} />
          </h1>
          <p className="muted mono">{s.id}</p>
        </div>
        <Authorized required="OPERATOR">
          <div className="toolbar">
            <Button busy={verify.isPending} disabled={s.state !== 'COMPLETED'} onClick={() => verify.mutate(s.id)}>
              Verify
            </Button>
            <RestoreDialog snapshot={s} />
            <DeleteAction snapshot={s} />
          </div>
        </Authorized>
      </div>
      {verify.isError ? <ErrorMessage error={verify.error} title="Could not start the verification" /> : null}
      {s.state === 'FAILED' ? (
        <div className="notice notice--warn" role="status">
          <p>
            <strong>This snapshot failed:</strong> {s.error ?? 'no reason given'}
          </p>
        </div>
      ) : null}
      <div className="grid-2">
        <Card title="Snapshot">
          <dl className="facts">
            <Fact label="Region">
              <Link to={paths.region(s.regionId)}>{s.regionName}</Link>
            </Fact>
            <Fact label="Kind">
              {s.kind}
              {s.parentId ? (
                <>
                  {' '}
                  on <Link to={paths.snapshot(s.parentId)}>{s.parentId.slice(0, 8)}</Link>
                </>
              ) : null}
            </Fact>
            <Fact label="Taken by">{s.requestedBy}</Fact>
            <Fact label="Created">{formatDateTime(s.createdAt)}</Fact>
            <Fact label="Duration">{formatMillis(s.durationMs)}</Fact>
            <Fact label="Size">{formatBytes(s.sizeBytes)}</Fact>
            <Fact label="Pages">
              {s.pages ? `${formatCount(s.pages.present)} present, ${formatCount(s.pages.zero)} zero, of ${formatCount(s.pages.total)}` : '—'}
            </Fact>
          </dl>
        </Card>
        <Card title="Integrity">
          <dl className="facts">
            <Fact label="Verification">
              {s.verification ? (
                <>
                  <Badge tone={s.verification.state === 'VERIFIED' ? 'ok' : s.verification.state === 'CORRUPT' ? 'danger' : 'neutral'}>
                    {s.verification.state}
                  </Badge>
                  {s.verification.lastVerifiedAt ? <span className="muted"> {formatDateTime(s.verification.lastVerifiedAt)}</span> : null}
                </>
              ) : (
                '—'
              )}
            </Fact>
            <Fact label="Quiesced">{s.quiesced ?? (s.requireQuiesce ? 'required' : 'not asked')}</Fact>
            <Fact label="Writers held">
              {s.writerStall ? `${formatCount(s.writerStall.count)} times, ${formatLatency(s.writerStall)}` : '—'}
            </Fact>
            <Fact label="Checksum">
              <span className="mono facts__wrap">{s.checksum ?? '—'}</span>
            </Fact>
            <Fact label="Image">
              <span className="mono facts__wrap">{s.imagePath ?? '—'}</span>
            </Fact>
          </dl>
        </Card>
      </div>
      <Card title="Operations">
        <Operations id={s.id} />
      </Card>
    </div>
  );
}
