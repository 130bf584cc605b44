import { keepPreviousData, useQuery } from '@tanstack/react-query';

import { apiClient, isApiError } from '@/lib/api-client';

import { isRunning, type Migration, migrationKeys, type Page } from './types';

const endpoint = '/api/v1/migrations';

export type MigrationFilter = { regionId?: string; phase?: string; page?: number; size?: number };

/**
 * `GET /api/v1/migrations`, newest first. Answers null while the service has no migrations API
 * (404), so the page can say so instead of showing an error.
 */
export async function getMigrations(filter: MigrationFilter, signal?: AbortSignal): Promise<Page<Migration> | null> {
  const query = new URLSearchParams();
  if (filter.regionId) query.set('regionId', filter.regionId);
  if (filter.phase) query.set('phase', filter.phase);
  query.set('page', String(filter.page ?? 0));
  query.set('size', String(filter.size ?? 25));
  try {
    return await apiClient.get<Page<Migration>>(`${endpoint}?${query}`, { signal });
  } catch (error) {
    if (isApiError(error) && error.status === 404) return null;
    throw error;
  }
}

export function useMigrations(filter: MigrationFilter) {
  return useQuery({
    queryKey: migrationKeys.list(filter),
    queryFn: ({ signal }) => getMigrations(filter, signal),
    placeholderData: keepPreviousData,
    refetchInterval: (query) => (query.state.data?.items.some((job) => isRunning(job.phase)) ? 2_000 : 15_000),
  });
}
