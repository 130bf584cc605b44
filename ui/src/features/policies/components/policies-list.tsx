import { Link } from 'react-router';

import { Badge } from '@/components/ui/badge';
import { Card } from '@/components/ui/card';
import { ErrorMessage } from '@/components/ui/error-message';
import { paths } from '@/config/paths';
import { Authorized } from '@/lib/authorization';

import { usePolicies } from '../api/get-policies';
import { formatInZone } from './next-runs-preview';

export function PoliciesList() {
  const policies = usePolicies();
  return (
    <div className="page">
      <div className="page-header page-header--actions">
        <div className="page-header">
          <h1>Snapshot policies</h1>
          <p className="muted">Label selector + cron schedule in a time zone + retention rules.</p>
        </div>
        <Authorized required="OPERATOR">
          <Link className="button button--primary" to={paths.newPolicy}>
            New policy
          </Link>
        </Authorized>
      </div>
      <Card title="Policies">
        {policies.isPending ? <p role="status">Loading policies…</p> : null}
        {policies.isError ? <ErrorMessage error={policies.error} title="Could not load policies" /> : null}
        {policies.data?.length === 0 ? <p className="empty">No policies yet.</p> : null}
        {policies.data && policies.data.length > 0 ? (
          <div className="table-scroll">
            <table className="data-table">
              <caption className="visually-hidden">Snapshot policies</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Selector</th>
                  <th scope="col">Schedule</th>
                  <th scope="col">Next run</th>
                  <th scope="col">Retention</th>
                </tr>
              </thead>
              <tbody>
                {policies.data.map((policy) => (
                  <tr key={policy.id}>
                    <th scope="row">
                      <Link to={paths.policy(policy.id)}>{policy.name}</Link> {policy.paused ? <Badge tone="warn">paused</Badge> : null}
                    </th>
                    <td className="mono">{policy.selector || <span className="muted">every region</span>}</td>
                    <td>
                      <code>{policy.schedule}</code> <span className="muted">{policy.timeZone}</span>
                    </td>
                    <td>{policy.nextRunAt ? formatInZone(policy.nextRunAt, policy.timeZone) : <span className="muted">—</span>}</td>
                    <td className="muted">{describeRetention(policy.retention)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </Card>
    </div>
  );
}

export function describeRetention(r: {
  keepLast: number;
  hourly: number;
  daily: number;
  weekly: number;
  monthly: number;
  maxAge: string | null;
  keepVerified: number;
}): string {
  const parts = [
    r.keepLast ? `last ${r.keepLast}` : null,
    r.hourly ? `${r.hourly} hourly` : null,
    r.daily ? `${r.daily} daily` : null,
    r.weekly ? `${r.weekly} weekly` : null,
    r.monthly ? `${r.monthly} monthly` : null,
    r.maxAge ? `max age ${r.maxAge}` : null,
    r.keepVerified ? `${r.keepVerified} verified kept` : null,
  ].filter(Boolean);
  return parts.length ? parts.join(', ') : 'keep everything';
}
