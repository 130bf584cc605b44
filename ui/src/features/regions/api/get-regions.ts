import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { type Page, type Region, regionKeys, type RegionState } from './types';

const endpoint = '/api/v1/regions';

export type RegionListParams = { selector?: string; state?: RegionState | ''; page?: number; size?: number };

/** `GET /api/v1/regions`: newest first, filtered by a label selector and a state. */
export function getRegions(params: RegionListParams, signal?: AbortSignal): Promise<Page<Region>> {
  const query = new URLSearchParams();
  if (params.selector?.trim()) query.set('selector', params.selector.trim());
  if (params.state) query.set('state', params.state);
  query.set('page', String(params.page ?? 0));
  query.set('size', String(params.size ?? 50));
  return apiClient.get<Page<Region>>(`${endpoint}?${query}`, { signal });
}

export function regionsQueryOptions(params: RegionListParams, refetchInterval: number | false = 5_000) {
  return queryOptions({
    queryKey: regionKeys.list(params),
    queryFn: ({ signal }) => getRegions(params, signal),
    // Page counts and stats move all the time; attach/detach also arrive on the event stream.
    refetchInterval,
    placeholderData: keepPreviousData,
  });
}

export function useRegions(params: RegionListParams, refetchInterval?: number | false) {
  return useQuery(regionsQueryOptions(params, refetchInterval));
}
