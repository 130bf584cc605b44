import { Badge } from '@/components/ui/badge';
import { Card } from '@/components/ui/card';
import { ErrorMessage } from '@/components/ui/error-message';
import { formatAge } from '@/lib/format';

import { useNodes } from '../api/get-nodes';

/** The nodes of the cluster and their agents; renders nothing while the service has no nodes API. */
export function NodesCard() {
  const nodes = useNodes();
  if (nodes.isPending || nodes.data === null) return null;
  if (nodes.isError) return <ErrorMessage error={nodes.error} title="Could not load nodes" />;
  return (
    <Card title="Nodes">
      <div className="table-scroll">
        <table className="data-table">
          <caption className="visually-hidden">Nodes and their agents</caption>
          <thead>
            <tr>
              <th scope="col">Node</th>
              <th scope="col">State</th>
              <th scope="col">Agent</th>
              <th scope="col">Page channel</th>
              <th scope="col">Capabilities</th>
            </tr>
          </thead>
          <tbody>
            {nodes.data.map((node) => (
              <tr key={node.name}>
                <th scope="row">
                  {node.name} {node.local ? <Badge tone="info">this node</Badge> : null}
                </th>
                <td>
                  <Badge tone={node.state === 'UP' ? 'ok' : 'danger'}>{node.state}</Badge>
                  {node.lastHeartbeat ? <div className="muted">heartbeat {formatAge(node.lastHeartbeat)} ago</div> : null}
                </td>
                <td>
                  {node.agent ? (
                    <>
                      <Badge tone={node.agent.state === 'READY' ? 'ok' : node.agent.state === 'DOWN' ? 'danger' : 'warn'}>{node.agent.state}</Badge>{' '}
                      <span className="muted">
                        {node.agent.version ?? ''} {node.agent.pid ? `pid ${node.agent.pid}` : ''}
                      </span>
                    </>
                  ) : (
                    '—'
                  )}
                </td>
                <td className="mono">{node.pageChannel?.address ?? '—'}</td>
                <td>{node.capabilities.join(', ') || '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Card>
  );
}
