import { Badge, type BadgeTone } from '@/components/ui/badge';

import type { RegionState } from '../api/types';

const tones: Record<RegionState, BadgeTone> = { ATTACHED: 'ok', DETACHING: 'warn', DETACHED: 'neutral' };

export function RegionStateBadge({ state }: { state: RegionState }) {
  return (
    <Badge tone={tones[state] ?? 'neutral'} title="Region state">
      {state}
    </Badge>
  );
}
