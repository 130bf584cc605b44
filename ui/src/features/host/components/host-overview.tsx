import type { ReactNode } from 'react';

import { Button } from '@/components/ui/button';
import { ErrorMessage } from '@/components/ui/error-message';
import { env } from '@/config/env';
import { formatTime } from '@/lib/format';

import { useHost } from '../api/get-host';
import { AgentCard } from './agent-card';
import { HostCard } from './host-card';
import { notableFeatures, notableIoctls } from './notable-capabilities';
import { ProbeComparison } from './probe-comparison';
import { ProbeSummary } from './probe-summary';

import './host-overview.css';

/**
 * The host page: kernel, agent health and what userfaultfd can do here, kept fresh by polling.
 * `summary` (what is happening now) goes right under the title, `beforeProbes` between the
 * agent and the long capability tables.
 */
export function HostOverview({ summary, beforeProbes }: { summary?: ReactNode; beforeProbes?: ReactNode } = {}) {
  const host = useHost();
  const refreshSeconds = Math.round(env.hostRefreshMs / 100) / 10;

  return (
    <div className="host-overview">
      <div className="page-header">
        <h1>Host overview</h1>
        <p className="muted">
          Refreshes every {refreshSeconds} s
          {host.dataUpdatedAt ? <> · last answer at {formatTime(host.dataUpdatedAt)}</> : null}
        </p>
      </div>

      {summary}

      {host.isPending ? (
        <p role="status">Loading host information…</p>
      ) : host.isError && !host.data ? (
        <ErrorMessage error={host.error} title="Could not load the host">
          <Button onClick={() => void host.refetch()} busy={host.isFetching}>
            Try again
          </Button>
        </ErrorMessage>
      ) : null}

      {host.data ? (
        <>
          {host.isError ? (
            <ErrorMessage error={host.error} title="Lost contact with the service">
              <p className="muted">
                Showing the last answer, from {formatTime(host.dataUpdatedAt)}. Retrying every{' '}
                {refreshSeconds} s.
              </p>
            </ErrorMessage>
          ) : null}

          <div className="host-overview__grid">
            <HostCard host={host.data} />
            <AgentCard agent={host.data.agent} hostKernel={host.data.kernel} />
          </div>

          {beforeProbes}

          <ProbeSummary jvm={host.data.userfaultfd} agent={host.data.agent.userfaultfd} />

          <div className="host-overview__grid host-overview__grid--wide">
            <ProbeComparison
              title="Features"
              nameHeader="Feature"
              caption="userfaultfd features reported by the JVM and by the agent"
              jvm={host.data.userfaultfd.features}
              agent={host.data.agent.userfaultfd?.features ?? null}
              notable={notableFeatures}
            />
            <ProbeComparison
              title="ioctls"
              nameHeader="ioctl"
              caption="userfaultfd ioctls reported by the JVM and by the agent"
              jvm={host.data.userfaultfd.ioctls}
              agent={host.data.agent.userfaultfd?.ioctls ?? null}
              notable={notableIoctls}
            />
          </div>
        </>
      ) : null}
    </div>
  );
}
