import { useQuery } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { type SnapshotOperation, snapshotKeys } from './types';

const endpoint = '/api/v1/snapshots';

/** `GET /api/v1/snapshots/{id}/operations`: verifications, restores and deletions, newest first. */
export function getSnapshotOperations(id: string, signal?: AbortSignal): Promise<SnapshotOperation[]> {
  return apiClient.get<SnapshotOperation[]>(`${endpoint}/${encodeURIComponent(id)}/operations`, { signal });
}

export function useSnapshotOperations(id: string) {
  return useQuery({
    queryKey: snapshotKeys.operations(id),
    queryFn: ({ signal }) => getSnapshotOperations(id, signal),
    refetchInterval: (query) =>
      query.state.data?.some((op) => op.state === 'PENDING' || op.state === 'RUNNING') ? 1_000 : 15_000,
  });
}
