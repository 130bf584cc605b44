import { useState } from 'react';

import { Card } from '@/components/ui/card';
import { Authorized } from '@/lib/authorization';

import type { RestoreSession } from '../api/types';
import { CreateRestoreForm } from './create-restore-form';
import { RestoresList } from './restores-list';
import { SocketHandoff } from './socket-handoff';

export function RestoresPage() {
  const [created, setCreated] = useState<RestoreSession | null>(null);
  return (
    <div className="page">
      <div className="page-header">
        <h1>Restores</h1>
        <p className="muted">
          Lazy restore: a workload starts at once on top of an image; pages arrive on first touch.
        </p>
      </div>
      <Authorized required="OPERATOR">
        <Card title="New restore session">
          {created ? (
            <div className="form-stack">
              <div className="notice notice--ok" role="status">
                <p>
                  Session <strong>{created.name}</strong> is {created.state}. Give this socket to the workload or
                  to Firecracker; its region appears under Regions as soon as the workload connects.
                </p>
              </div>
              <SocketHandoff session={created} />
              <div>
                <button type="button" className="link-button" onClick={() => setCreated(null)}>
                  Open another session
                </button>
              </div>
            </div>
          ) : (
            <CreateRestoreForm onCreated={setCreated} />
          )}
        </Card>
      </Authorized>
      <RestoresList />
    </div>
  );
}
