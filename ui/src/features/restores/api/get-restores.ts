import { keepPreviousData, useQuery } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';
import type { Page } from '@/lib/api-types';

import { type RestoreSession, restoreKeys, type RestoreSort, type RestoreState } from './types';

export type RestoreListParams = { state?: RestoreState | ''; sort?: RestoreSort; page?: number; size?: number };

/** `GET /api/v1/restores`: one page, filtered, sorted and counted by the service. */
export function getRestores(params: RestoreListParams, signal?: AbortSignal): Promise<Page<RestoreSession>> {
  const query = new URLSearchParams();
  if (params.state) query.set('state', params.state);
  query.set('sort', params.sort ?? 'createdAt,desc');
  query.set('page', String(params.page ?? 0));
  query.set('size', String(params.size ?? 25));
  return apiClient.get<Page<RestoreSession>>(`/api/v1/restores?${query}`, { signal });
}

export function useRestores(params: RestoreListParams) {
  return useQuery({
    queryKey: restoreKeys.list(params),
    queryFn: ({ signal }) => getRestores(params, signal),
    // Progress moves without events while pages stream in: poll while a session on the page is filling.
    refetchInterval: (query) =>
      query.state.data?.items.some((session) => session.state === 'REQUESTED' || session.state === 'WAITING' || session.state === 'ACTIVE') ? 2_000 : 10_000,
    placeholderData: keepPreviousData,
  });
}
