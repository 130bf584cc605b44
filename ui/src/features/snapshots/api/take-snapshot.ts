import { useMutation, useQueryClient } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { type Snapshot, type SnapshotKind, snapshotKeys } from './types';

/** `POST /api/v1/snapshots`: starts a job now; answers 202 with the snapshot in PENDING. */
export function takeSnapshot(input: { regionId: string; kind?: SnapshotKind }): Promise<Snapshot> {
  return apiClient.post<Snapshot>('/api/v1/snapshots', { regionId: input.regionId, kind: input.kind ?? 'FULL' });
}

export function useTakeSnapshot() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: takeSnapshot,
    onSuccess: (snapshot) => {
      queryClient.setQueryData(snapshotKeys.detail(snapshot.id), snapshot);
      void queryClient.invalidateQueries({ queryKey: ['snapshots', 'list'] });
    },
  });
}
