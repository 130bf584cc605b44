import { queryOptions, useQuery } from '@tanstack/react-query';

import { requestWithResponse } from '@/lib/api-client';

import { type Region, regionKeys } from './types';

const endpoint = '/api/v1/regions';

export type RegionWithEtag = Region & { etag: string | null };

/** `GET /api/v1/regions/{id}`: the region with live statistics, and the ETag a label change needs. */
export async function getRegion(id: string, signal?: AbortSignal): Promise<RegionWithEtag> {
  const response = await requestWithResponse<Region>(`${endpoint}/${encodeURIComponent(id)}`, { signal });
  return { ...response.data, etag: response.etag };
}

export function regionQueryOptions(id: string, refetchInterval: number | false = 2_000) {
  return queryOptions({
    queryKey: regionKeys.detail(id),
    queryFn: ({ signal }) => getRegion(id, signal),
    // Polled: the fault rate and latency charts are built from successive samples.
    refetchInterval,
  });
}

export function useRegion(id: string, refetchInterval?: number | false) {
  return useQuery(regionQueryOptions(id, refetchInterval));
}
