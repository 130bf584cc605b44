import { Link, useSearchParams } from 'react-router';

import { Badge, type BadgeTone } from '@/components/ui/badge';
import { Card } from '@/components/ui/card';
import { ConfirmAction } from '@/components/ui/confirm-action';
import { ErrorMessage } from '@/components/ui/error-message';
import { Field } from '@/components/ui/field';
import { Pagination } from '@/components/ui/pagination';
import { ProgressBar } from '@/components/ui/progress-bar';
import { paths } from '@/config/paths';
import { isApiError } from '@/lib/api-client';
import { Authorized } from '@/lib/authorization';
import { formatAge, formatBytes, formatCount } from '@/lib/format';

import { useDeleteRestore } from '../api/delete-restore';
import { useRestores } from '../api/get-restores';
import { isOpen, type RestoreSession, type RestoreSort, type RestoreState, restoreStates } from '../api/types';
import { SocketHandoff } from './socket-handoff';

const tones: Record<RestoreState, BadgeTone> = {
  REQUESTED: 'neutral',
  WAITING: 'info',
  ACTIVE: 'warn',
  COMPLETE: 'ok',
  FAILED: 'danger',
  CLOSED: 'neutral',
};

function CloseSession({ session }: { session: RestoreSession }) {
  const remove = useDeleteRestore();
  return (
    <ConfirmAction
      label="Close"
      ariaLabel={`Close restore session ${session.name}`}
      variant="danger"
      title={`Close restore session ${session.name}?`}
      confirmLabel="Close session"
      action={() => remove.mutateAsync(session.id)}
      renderError={(error) =>
        isApiError(error) && error.status === 409 ? (
          <div className="notice notice--warn" role="alert">
            <p>
              <strong>The session cannot be closed yet.</strong> One of its regions is still attached and not
              every page is present; closing now would leave the workload with pages nobody can serve.
              Detach the region first (the agent installs the missing pages), then close the session.
            </p>
            {session.regions.map((regionId) => (
              <p key={regionId}>
                <Link to={paths.region(regionId)}>Open region {regionId.slice(0, 8)}</Link>
              </p>
            ))}
            <p className="muted">The service said: {error.detail}</p>
          </div>
        ) : (
          <ErrorMessage error={error} title="Could not close the session" />
        )
      }
    >
      <p>
        The agent closes the socket <code>{session.socket}</code>; no new workload can connect to it.
      </p>
    </ConfirmAction>
  );
}

const pageSize = 25;

const sorts: { value: RestoreSort; label: string }[] = [
  { value: 'createdAt,desc', label: 'Newest first' },
  { value: 'createdAt,asc', label: 'Oldest first' },
  { value: 'name,asc', label: 'Name' },
  { value: 'state,asc', label: 'State' },
  { value: 'node,asc', label: 'Node' },
];

/**
 * One page of the sessions, filtered and sorted by the service (a host may hold thousands). The
 * filter lives in the URL, so a filtered view can be bookmarked and survives a reload.
 */
export function RestoresList() {
  const [params, setParams] = useSearchParams();
  const state = (params.get('state') ?? '') as RestoreState | '';
  const sort = (sorts.find((s) => s.value === params.get('sort'))?.value ?? 'createdAt,desc') as RestoreSort;
  const page = Math.max(0, Number(params.get('page') ?? 0) || 0);
  const restores = useRestores({ state, sort, page, size: pageSize });

  function update(next: { state?: string; sort?: string; page?: number }) {
    const merged = new URLSearchParams(params);
    for (const [key, value] of Object.entries(next)) {
      if (value === '' || value === undefined || value === 0 || value === 'createdAt,desc') merged.delete(key);
      else merged.set(key, String(value));
    }
    setParams(merged, { replace: true });
  }

  const items = restores.data?.items;
  return (
    <Card title="Restore sessions" aside={restores.isFetching ? <span className="muted">updating…</span> : null}>
      <div className="toolbar" role="search" aria-label="Filter restore sessions">
        <Field label="State">
          {(control) => (
            <select {...control} value={state} onChange={(event) => update({ state: event.target.value, page: 0 })}>
              <option value="">Any state</option>
              {restoreStates.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Sort by">
          {(control) => (
            <select {...control} value={sort} onChange={(event) => update({ sort: event.target.value, page: 0 })}>
              {sorts.map((s) => (
                <option key={s.value} value={s.value}>
                  {s.label}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>
      {restores.isPending ? <p role="status">Loading restore sessions…</p> : null}
      {restores.isError ? <ErrorMessage error={restores.error} title="Could not load restore sessions" /> : null}
      {items?.length === 0 ? (
        <p className="empty">{state ? 'No restore session in this state.' : 'No restore sessions yet.'}</p>
      ) : null}
      {restores.data && items && items.length > 0 ? (
        <>
        <div className="table-scroll">
          <table className="data-table">
            <caption className="visually-hidden">Restore sessions</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">State</th>
                <th scope="col">Image or snapshot</th>
                <th scope="col">Progress</th>
                <th scope="col">Socket and regions</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((session) => (
                <tr key={session.id} data-restore={session.name}>
                  <th scope="row">
                    {session.name}
                    <div className="muted" style={{ fontSize: '0.8rem' }}>
                      {formatAge(session.createdAt)} ago · fault-around {session.options.faultAroundPages} ·
                      populate {session.options.populateDelayMs < 0 ? 'never' : `${session.options.populateDelayMs} ms`} ·
                      working set {session.options.workingSet} · mode {session.options.mode}
                    </div>
                  </th>
                  <td>
                    <Badge tone={tones[session.state] ?? 'neutral'}>{session.state}</Badge>
                    {session.error ? <div className="field__error">{session.error}</div> : null}
                  </td>
                  <td>
                    {session.snapshotId ? (
                      <div>
                        <Link to={paths.snapshot(session.snapshotId)}>snapshot {session.snapshotId.slice(0, 8)}</Link>
                      </div>
                    ) : null}
                    <span className={session.snapshotId ? 'mono facts__wrap muted' : 'mono facts__wrap'}>
                      {session.image.path}
                    </span>
                    <div className="muted">
                      {formatBytes(session.image.size)}
                      {session.snapshotId ? ' · flat copy of its chain, removed with the session' : ''}
                    </div>
                  </td>
                  <td>
                    {session.pages && session.pages.total > 0 ? (
                      <ProgressBar
                        label={`Progress of ${session.name}`}
                        value={session.pages.present}
                        max={session.pages.total}
                        valueText={`${formatCount(session.pages.present)} / ${formatCount(session.pages.total)} pages`}
                        tone={session.state === 'COMPLETE' ? 'ok' : 'accent'}
                      />
                    ) : (
                      <span className="muted">{session.state === 'WAITING' ? 'waiting for a workload' : '—'}</span>
                    )}
                    {session.workingSet && session.workingSet.mode !== 'off' ? (
                      <div className="muted" style={{ fontSize: '0.8rem' }}>
                        working set {session.workingSet.mode}: {formatCount(session.workingSet.recordedPages)} recorded,{' '}
                        {formatCount(session.workingSet.replayedPages)} replayed
                      </div>
                    ) : null}
                    {session.timing && session.timing.firstFaultMs != null ? (
                      <div className="muted" style={{ fontSize: '0.8rem' }} data-testid="restore-timing">
                        first fault served {session.timing.firstFaultMs} ms after the request
                        {session.timing.completeMs != null ? `, complete after ${session.timing.completeMs} ms` : ''}
                      </div>
                    ) : null}
                    {session.clones ? (
                      <div className="muted" style={{ fontSize: '0.8rem' }} data-testid="restore-clones">
                        {session.clones.clones.length} {session.clones.clones.length === 1 ? 'clone' : 'clones'}: shared copy{' '}
                        {formatBytes(session.clones.sharedBytes)} ({formatBytes(session.clones.sharedResidentBytes)} in memory),
                        private {formatBytes(session.clones.privateBytes)}, PSS {formatBytes(session.clones.pssBytes)}
                      </div>
                    ) : null}
                  </td>
                  <td>
                    {isOpen(session.state) ? <SocketHandoff session={session} /> : <span className="muted">closed</span>}
                    {session.regions.map((regionId) => (
                      <div key={regionId}>
                        <Link to={paths.region(regionId)}>region {regionId.slice(0, 8)}</Link>
                      </div>
                    ))}
                  </td>
                  <td>
                    {session.state !== 'CLOSED' ? (
                      <Authorized required="OPERATOR">
                        <CloseSession session={session} />
                      </Authorized>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <Pagination
          page={restores.data.page}
          totalPages={restores.data.totalPages}
          totalItems={restores.data.totalItems}
          noun="sessions"
          onPage={(next) => update({ page: next })}
        />
        </>
      ) : null}
    </Card>
  );
}
