import { useQuery } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { type RestoreSession, restoreKeys } from './types';

/** `GET /api/v1/restores`: every session, newest first, with progress. */
export function getRestores(signal?: AbortSignal): Promise<RestoreSession[]> {
  return apiClient.get<RestoreSession[]>('/api/v1/restores', { signal });
}

export function useRestores() {
  return useQuery({
    queryKey: restoreKeys.list(),
    queryFn: ({ signal }) => getRestores(signal),
    // Progress moves without events while pages stream in: poll while a session is filling.
    refetchInterval: (query) =>
      query.state.data?.some((session) => session.state === 'REQUESTED' || session.state === 'WAITING' || session.state === 'ACTIVE') ? 2_000 : 10_000,
  });
}
