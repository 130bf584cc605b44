import { CopyButton } from '@/components/ui/copy-button';

import type { RestoreSession } from '../api/types';

/** The socket a workload or Firecracker connects to, with a copy button and how to use it. */
export function SocketHandoff({ session }: { session: RestoreSession }) {
  if (!session.socket) return <p className="muted">The agent has not reported a socket.</p>;
  return (
    <div className="form-stack">
      <div className="socket-path">
        <code data-testid="restore-socket">{session.socket}</code>
        <CopyButton text={session.socket} what="socket path" />
      </div>
      <details>
        <summary>How to hand it to the workload</summary>
        <p>A process using libfaultline (C, or Java through JNA):</p>
        <pre className="snippet">{`FAULTLINE_HANDOFF=${session.socket} ./your-workload
faultline-demo restore --socket ${session.socket} --size ${session.image.size}`}</pre>
        <p>A Firecracker microVM, as its UFFD memory backend:</p>
        <pre className="snippet">{`"mem_backend": {"backend_type": "Uffd", "backend_path": "${session.socket}"}`}</pre>
      </details>
    </div>
  );
}
