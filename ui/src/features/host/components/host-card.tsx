import { Card } from '@/components/ui/card';

import type { HostInfo } from '../api/get-host';

export function HostCard({ host }: { host: HostInfo }) {
  const { kernel } = host;
  return (
    <Card title="Host">
      <dl className="facts">
        <div>
          <dt>Hostname</dt>
          <dd className="mono">{host.hostname}</dd>
        </div>
        <div>
          <dt>Kernel release</dt>
          <dd className="mono">{kernel.release}</dd>
        </div>
        <div>
          <dt>System</dt>
          <dd>
            {kernel.sysname} on {kernel.machine}
          </dd>
        </div>
      </dl>
    </Card>
  );
}
