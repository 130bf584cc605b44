import { Badge, type BadgeTone } from '@/components/ui/badge';
import { Card } from '@/components/ui/card';
import { formatAge, formatDateTime } from '@/lib/format';

import type { AgentInfo, AgentState, KernelInfo } from '../api/get-host';

const stateTone: Record<AgentState, BadgeTone> = {
  READY: 'ok',
  STARTING: 'warn',
  DOWN: 'danger',
};

const modeDescription = {
  EMBEDDED: 'started and supervised by the service',
  EXTERNAL: 'run separately; the service connects to its socket',
} as const;

function sameKernel(a: KernelInfo, b: KernelInfo): boolean {
  return a.sysname === b.sysname && a.release === b.release && a.machine === b.machine;
}

function orDash(value: string | number | null | undefined) {
  return value === null || value === undefined || value === '' ? '—' : value;
}

export function AgentCard({ agent, hostKernel }: { agent: AgentInfo; hostKernel: KernelInfo }) {
  const age = agent.since ? formatAge(agent.since) : null;
  return (
    <Card
      title="Agent"
      aside={
        <Badge tone={stateTone[agent.state] ?? 'neutral'} title="Agent state">
          <span className="visually-hidden">State: </span>
          {agent.state}
        </Badge>
      }
    >
      <dl className="facts">
        <div>
          <dt>Mode</dt>
          <dd>
            {agent.mode}{' '}
            <span className="muted">({modeDescription[agent.mode] ?? 'unknown mode'})</span>
          </dd>
        </div>
        <div>
          <dt>PID</dt>
          <dd className="mono">{orDash(agent.pid)}</dd>
        </div>
        <div>
          <dt>Version</dt>
          <dd>
            {orDash(agent.version)}
            {agent.protocol !== null ? (
              <span className="muted"> · protocol {agent.protocol}</span>
            ) : null}
          </dd>
        </div>
        <div>
          <dt>Restarts</dt>
          <dd>
            {agent.restarts > 0 ? <Badge tone="warn">{agent.restarts}</Badge> : agent.restarts}
          </dd>
        </div>
        <div>
          <dt>In this state since</dt>
          <dd>
            {agent.since ? (
              <>
                <time dateTime={agent.since}>{formatDateTime(agent.since)}</time>
                {age ? <span className="muted"> ({age} ago)</span> : null}
              </>
            ) : (
              '—'
            )}
          </dd>
        </div>
        <div>
          <dt>Socket</dt>
          <dd className="mono facts__wrap">{orDash(agent.socket)}</dd>
        </div>
        {agent.kernel && !sameKernel(agent.kernel, hostKernel) ? (
          <div>
            <dt>Agent kernel</dt>
            <dd className="mono">
              {agent.kernel.sysname} {agent.kernel.release} {agent.kernel.machine}
            </dd>
          </div>
        ) : null}
      </dl>
      {agent.lastError ? (
        <div className="agent-card__last-error">
          <p className="agent-card__last-error-title">Last error</p>
          <p className="mono facts__wrap">{agent.lastError}</p>
        </div>
      ) : null}
    </Card>
  );
}
