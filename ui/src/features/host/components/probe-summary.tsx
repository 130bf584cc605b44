import type { ReactNode } from 'react';

import { Card } from '@/components/ui/card';

import type { UffdProbe } from '../api/get-host';
import { Presence } from './presence';

type Row = { label: string; render: (probe: UffdProbe) => ReactNode };

const rows: Row[] = [
  { label: 'Available', render: (probe) => <Presence value={probe.available} /> },
  { label: 'Opened via', render: (probe) => <code>{probe.source ?? '—'}</code> },
  { label: 'UFFD API', render: (probe) => <span className="mono">{probe.api ?? '—'}</span> },
  { label: 'PAGEMAP_SCAN', render: (probe) => <Presence value={probe.pagemapScan} /> },
  {
    label: 'Error',
    render: (probe) =>
      probe.error ? <span className="probe-error mono">{probe.error}</span> : <span className="muted">none</span>,
  },
];

/** The two userfaultfd probes side by side: the JVM's in-process one and the agent's. */
export function ProbeSummary({ jvm, agent }: { jvm: UffdProbe; agent: UffdProbe | null }) {
  return (
    <Card title="userfaultfd">
      <div className="table-scroll">
        <table className="data-table">
          <caption className="visually-hidden">userfaultfd as probed by the JVM and by the agent</caption>
          <thead>
            <tr>
              <th scope="col">Probe</th>
              <th scope="col">JVM</th>
              <th scope="col">Agent</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.label}>
                <th scope="row">{row.label}</th>
                <td>{row.render(jvm)}</td>
                <td>{agent ? row.render(agent) : <Presence value={null} />}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {agent ? null : (
        <p className="probe-note muted">
          The agent has not reported its own probe; it does once it is READY.
        </p>
      )}
    </Card>
  );
}
