import { Link } from 'react-router';

import { Badge } from '@/components/ui/badge';
import { Button } from '@/components/ui/button';
import { Card } from '@/components/ui/card';
import { ConfirmAction } from '@/components/ui/confirm-action';
import { ErrorMessage } from '@/components/ui/error-message';
import { Fact } from '@/components/ui/fact';
import { LineChart } from '@/components/ui/line-chart';
import { ProgressBar } from '@/components/ui/progress-bar';
import { paths } from '@/config/paths';
import { isApiError } from '@/lib/api-client';
import { Authorized } from '@/lib/authorization';
import { formatBytes, formatCount, formatDateTime, formatHex, formatLatency, formatNanos, formatRate } from '@/lib/format';
import { useSamples } from '@/lib/use-samples';

import { useDetachRegion } from '../api/detach-region';
import { type RegionWithEtag, useRegion } from '../api/get-region';
import { faultRate, intervalLatency } from '../utils/stats-series';
import { LabelsEditor } from './labels-editor';
import { RegionStateBadge } from './region-state-badge';

import './regions.css';

function Geometry({ region }: { region: RegionWithEtag }) {
  const pages = region.pageSize > 0 ? region.length / region.pageSize : 0;
  return (
    <Card title="Geometry">
      <dl className="facts">
        <Fact label="Start">
          <span className="mono">{formatHex(region.start)}</span>
        </Fact>
        <Fact label="End">
          <span className="mono">{formatHex(region.start + region.length)}</span>{' '}
          <span className="muted">(exclusive)</span>
        </Fact>
        <Fact label="Length">
          {formatBytes(region.length)} <span className="muted mono">({formatHex(region.length)})</span>
        </Fact>
        <Fact label="Page size">
          {formatBytes(region.pageSize)} <span className="muted">· {formatCount(pages)} pages</span>
        </Fact>
        <Fact label="Modes">
          {region.modes.length ? region.modes.map((mode) => <Badge key={mode}>{mode}</Badge>) : '—'}
        </Fact>
        <Fact label="Backing">
          {region.backing ? (
            <>
              {region.backing.kind}
              {region.backing.path ? <div className="mono facts__wrap">{region.backing.path}</div> : null}
              {region.backing.restoreId ? (
                <div>
                  <Link to={paths.restores}>restore session {region.backing.restoreId.slice(0, 8)}</Link>
                </div>
              ) : null}
            </>
          ) : (
            'anonymous'
          )}
        </Fact>
      </dl>
    </Card>
  );
}

function Owner({ region }: { region: RegionWithEtag }) {
  return (
    <Card title="Owner">
      <dl className="facts">
        <Fact label="Process">
          <span className="mono">{region.owner?.pid ?? '—'}</span>{' '}
          {region.owner?.command ? <span className="mono">({region.owner.command})</span> : null}
        </Fact>
        <Fact label="User id">
          <span className="mono">{region.owner?.uid ?? '—'}</span>
        </Fact>
        <Fact label="Registered via">{region.source ?? '—'}</Fact>
        <Fact label="Node">{region.node}</Fact>
        <Fact label="Attached">{region.attachedAt ? formatDateTime(region.attachedAt) : '—'}</Fact>
        {region.detachedAt ? <Fact label="Detached">{formatDateTime(region.detachedAt)}</Fact> : null}
      </dl>
    </Card>
  );
}

function PagesCard({ region }: { region: RegionWithEtag }) {
  const installed = region.stats?.installed;
  return (
    <Card title="Pages">
      {region.pages ? (
        <ProgressBar
          label="Pages present"
          value={region.pages.present}
          max={region.pages.total}
          valueText={`${formatCount(region.pages.present)} of ${formatCount(region.pages.total)} pages present`}
          tone={region.pages.present >= region.pages.total ? 'ok' : 'accent'}
        />
      ) : (
        <p className="empty">
          {region.state === 'DETACHED' ? 'Detached: the agent no longer tracks its pages.' : 'The agent has not reported page counts.'}
        </p>
      )}
      {installed ? (
        <>
          <dl className="install-paths" aria-label="Pages by install path">
            <div>
              <dt>demand</dt>
              <dd>{formatCount(installed.demand)}</dd>
            </div>
            <div>
              <dt>fault-around</dt>
              <dd>{formatCount(installed.faultAround)}</dd>
            </div>
            <div>
              <dt>prefetch</dt>
              <dd>{formatCount(installed.prefetch)}</dd>
            </div>
            <div>
              <dt>background</dt>
              <dd>{formatCount(installed.background)}</dd>
            </div>
          </dl>
          <p className="muted" style={{ margin: '0.6rem 0 0' }}>
            {formatCount(region.stats?.zeroPages)} zero pages · {formatBytes(region.stats?.bytesInstalled)} installed
          </p>
        </>
      ) : null}
    </Card>
  );
}

function LiveStats({ region, samples }: { region: RegionWithEtag; samples: ReturnType<typeof useSamples<RegionWithEtag['stats']>> }) {
  const rate = faultRate(samples);
  const latency = intervalLatency(samples);
  const stats = region.stats;
  return (
    <Card title="Faults, live" aside={<span className="muted">sampled every 2 s</span>}>
      <div className="charts">
        <LineChart
          title="Fault rate"
          series={[{ name: 'faults/s', points: rate, tone: 'accent' }]}
          format={(v) => formatRate(v)}
        />
        <LineChart
          title="Fault latency per interval"
          series={[
            { name: 'p50', points: latency.p50, tone: 'ok' },
            { name: 'p99', points: latency.p99, tone: 'warn' },
          ]}
          format={(v) => formatNanos(v)}
          emptyText="No faults in the last intervals."
        />
      </div>
      {stats ? (
        <dl className="facts" style={{ marginTop: '0.8rem' }}>
          <Fact label="Faults since attach">
            {formatCount(stats.faults.missing)} missing · {formatCount(stats.faults.wp)} write-protect ·{' '}
            {formatCount(stats.faults.minor)} minor
          </Fact>
          <Fact label="Latency since attach">{formatLatency(stats.latency)}</Fact>
          <Fact label="Threads blocked">{formatNanos(stats.blockedNs)} in total</Fact>
        </dl>
      ) : (
        <p className="empty">No live statistics: the region is detached or the agent is not reporting.</p>
      )}
    </Card>
  );
}

/** One region: geometry, owner, labels, pages by install path and live fault charts. */
export function RegionDetail({ id }: { id: string }) {
  const region = useRegion(id);
  const samples = useSamples(region.data ? region.data.stats : undefined, region.dataUpdatedAt, id);
  const detach = useDetachRegion();

  if (region.isPending) return <p role="status">Loading region…</p>;
  if (!region.data) {
    return (
      <ErrorMessage
        error={region.error}
        title={isApiError(region.error) && region.error.status === 404 ? 'No such region' : 'Could not load the region'}
      >
        <Button onClick={() => void region.refetch()}>Try again</Button>
      </ErrorMessage>
    );
  }
  const r = region.data;

  return (
    <div className="page">
      <div className="page-header page-header--actions">
        <div className="page-header">
          <p className="muted">
            <Link to={paths.regions}>Regions</Link> /
          </p>
          <h1>
            {r.name} <RegionStateBadge state={r.state} />
          </h1>
          <p className="muted mono">{r.id}</p>
        </div>
        {r.state === 'ATTACHED' ? (
          <Authorized required="OPERATOR">
            <ConfirmAction
              label="Detach"
              variant="danger"
              title={`Detach region ${r.name}?`}
              confirmLabel="Detach region"
              action={() => detach.mutateAsync(r.id)}
            >
              <p>
                The agent first installs every page still missing ({r.pages ? formatCount(r.pages.total - r.pages.present) : 'unknown'}{' '}
                now), so nothing the workload reads later turns into zeros. Then it stops serving this range
                and tells the workload. The workload keeps running on its own memory.
              </p>
              <p className="muted">The region goes DETACHING, then DETACHED.</p>
            </ConfirmAction>
          </Authorized>
        ) : null}
      </div>

      {region.isError ? (
        <ErrorMessage error={region.error} title="Lost contact: showing the last answer" />
      ) : null}

      <div className="grid-2">
        <Geometry region={r} />
        <Owner region={r} />
      </div>
      <div className="grid-2">
        <Card title="Labels">
          <LabelsEditor region={r} onReload={() => region.refetch()} />
        </Card>
        <PagesCard region={r} />
      </div>
      <LiveStats region={r} samples={samples} />
    </div>
  );
}
