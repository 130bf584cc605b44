import { Badge, type BadgeTone } from '@/components/ui/badge';

import type { OperationState, SnapshotState } from '../api/types';

const tones: Record<SnapshotState | OperationState, BadgeTone> = {
  PENDING: 'info',
  RUNNING: 'warn',
  COMPLETED: 'ok',
  SUCCEEDED: 'ok',
  FAILED: 'danger',
  DELETING: 'warn',
  DELETED: 'neutral',
};

export function StateBadge({ state }: { state: SnapshotState | OperationState }) {
  return (
    <Badge tone={tones[state] ?? 'neutral'} title="State">
      {state}
    </Badge>
  );
}
