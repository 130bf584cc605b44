import { Badge } from '@/components/ui/badge';
import { Card } from '@/components/ui/card';

import { Presence } from './presence';

type ProbeComparisonProps = {
  /** Card title, e.g. "Features". */
  title: string;
  /** Column header for the name, e.g. "Feature". */
  nameHeader: string;
  /** Table caption for screen readers. */
  caption: string;
  jvm: readonly string[];
  /** Null when the agent has not reported a probe. */
  agent: readonly string[] | null;
  /** Names worth pointing out, with the reason shown in the row. */
  notable: Readonly<Record<string, string>>;
};

type ComparisonRow = {
  name: string;
  inJvm: boolean;
  inAgent: boolean | null;
  why: string | undefined;
};

function compare(
  jvm: readonly string[],
  agent: readonly string[] | null,
  notable: Readonly<Record<string, string>>,
): ComparisonRow[] {
  // Keep the kernel's order, JVM's list first, then anything only the agent reported.
  const names = [...new Set([...jvm, ...(agent ?? [])])];
  return names.map((name) => ({
    name,
    inJvm: jvm.includes(name),
    inAgent: agent ? agent.includes(name) : null,
    why: Object.hasOwn(notable, name) ? notable[name] : undefined,
  }));
}

/**
 * A per-name comparison of what the JVM and the agent each found, with notable names
 * highlighted and disagreements flagged (they usually mean the two run under different
 * privileges or sysctls, e.g. vm.unprivileged_userfaultfd).
 */
export function ProbeComparison({ title, nameHeader, caption, jvm, agent, notable }: ProbeComparisonProps) {
  const rows = compare(jvm, agent, notable);
  const differing = rows.filter((row) => row.inAgent !== null && row.inAgent !== row.inJvm).length;

  return (
    <Card
      title={title}
      level={3}
      aside={
        agent === null ? (
          <Badge tone="neutral">agent probe missing</Badge>
        ) : differing > 0 ? (
          <Badge tone="warn">
            {differing} {differing === 1 ? 'difference' : 'differences'}
          </Badge>
        ) : (
          <Badge tone="ok">JVM and agent agree</Badge>
        )
      }
    >
      {rows.length === 0 ? (
        <p className="muted">Neither probe reported any.</p>
      ) : (
        <div className="table-scroll">
          <table className="data-table probe-table">
            <caption className="visually-hidden">{caption}</caption>
            <thead>
              <tr>
                <th scope="col">{nameHeader}</th>
                <th scope="col">JVM</th>
                <th scope="col">Agent</th>
                <th scope="col">Why it matters</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => {
                const differs = row.inAgent !== null && row.inAgent !== row.inJvm;
                return (
                  <tr
                    key={row.name}
                    className={row.why ? 'probe-table__row--notable' : undefined}
                    data-notable={row.why ? 'true' : undefined}
                  >
                    <th scope="row">
                      <code>{row.name}</code>
                      {row.why ? (
                        <>
                          {' '}
                          <Badge tone="notable">notable</Badge>
                        </>
                      ) : null}
                    </th>
                    <td>
                      <Presence value={row.inJvm} />
                    </td>
                    <td>
                      <Presence value={row.inAgent} />
                    </td>
                    <td className="probe-table__why">
                      {differs ? <Badge tone="warn">differs</Badge> : null}
                      {differs && row.why ? ' ' : null}
                      {row.why ?? null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}
