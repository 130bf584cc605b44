import { queryOptions, useQuery } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { regionKeys } from './types';

/** What the overview shows of regions, counted by the service's database. */
export type RegionTotals = {
  total: number;
  attached: number;
  detaching: number;
  detached: number;
  bytesAttached: number;
  /** Faults handled so far in the attached regions. */
  faults: number;
};

/** `GET /api/v1/regions/totals`: one small answer however many regions there are. */
export function getRegionTotals(signal?: AbortSignal): Promise<RegionTotals> {
  return apiClient.get<RegionTotals>('/api/v1/regions/totals', { signal });
}

export function useRegionTotals(refetchInterval: number | false = 3_000) {
  return useQuery(
    queryOptions({
      // under regionKeys.all: a streamed region event refreshes it like the lists
      queryKey: [...regionKeys.all, 'totals'] as const,
      queryFn: ({ signal }) => getRegionTotals(signal),
      refetchInterval,
    }),
  );
}
