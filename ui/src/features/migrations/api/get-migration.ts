import { useQuery } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { isRunning, type Migration, migrationKeys } from './types';

const endpoint = '/api/v1/migrations';

/** `GET /api/v1/migrations/{id}`: the job with live statistics. */
export function getMigration(id: string, signal?: AbortSignal): Promise<Migration> {
  return apiClient.get<Migration>(`${endpoint}/${encodeURIComponent(id)}`, { signal });
}

export function useMigration(id: string) {
  return useQuery({
    queryKey: migrationKeys.detail(id),
    queryFn: ({ signal }) => getMigration(id, signal),
    // Progress events also invalidate this; polling covers a stream that is down.
    refetchInterval: (query) => (query.state.data && !isRunning(query.state.data.phase) && query.state.data.phase !== 'PAUSED' ? false : 1_000),
  });
}
