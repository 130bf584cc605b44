import { useQuery } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { isActive, type Snapshot, snapshotKeys } from './types';

const endpoint = '/api/v1/snapshots';

/** `GET /api/v1/snapshots/{id}`. */
export function getSnapshot(id: string, signal?: AbortSignal): Promise<Snapshot> {
  return apiClient.get<Snapshot>(`${endpoint}/${encodeURIComponent(id)}`, { signal });
}

/** Polled every second while the job runs, so its terminal state shows as soon as it is reached. */
export function useSnapshot(id: string | null) {
  return useQuery({
    queryKey: snapshotKeys.detail(id ?? ''),
    queryFn: ({ signal }) => getSnapshot(id!, signal),
    enabled: id !== null,
    refetchInterval: (query) => (query.state.data && !isActive(query.state.data.state) ? 15_000 : 1_000),
  });
}
