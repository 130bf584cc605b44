import { keepPreviousData, useQuery } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { isActive, type Page, type Snapshot, type SnapshotFilter, snapshotKeys } from './types';

const endpoint = '/api/v1/snapshots';

/** `GET /api/v1/snapshots`: newest first; without a state filter DELETED ones are left out. */
export function getSnapshots(filter: SnapshotFilter, signal?: AbortSignal): Promise<Page<Snapshot>> {
  const query = new URLSearchParams();
  if (filter.regionId) query.set('regionId', filter.regionId);
  if (filter.policyId) query.set('policyId', filter.policyId);
  for (const state of filter.states ?? []) query.append('state', state);
  if (filter.kind) query.set('kind', filter.kind);
  query.set('page', String(filter.page ?? 0));
  query.set('size', String(filter.size ?? 50));
  return apiClient.get<Page<Snapshot>>(`${endpoint}?${query}`, { signal });
}

export function useSnapshots(filter: SnapshotFilter) {
  return useQuery({
    queryKey: snapshotKeys.list(filter),
    queryFn: ({ signal }) => getSnapshots(filter, signal),
    placeholderData: keepPreviousData,
    // Snapshot jobs are not on the event stream: follow them by polling while any runs.
    refetchInterval: (query) => (query.state.data?.items.some((s) => isActive(s.state)) ? 2_000 : 15_000),
  });
}
