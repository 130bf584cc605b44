import { useQuery } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { type Policy, policyKeys } from './types';

/** `GET /api/v1/snapshot-policies`: every policy, by name. */
export function getPolicies(signal?: AbortSignal): Promise<Policy[]> {
  return apiClient.get<Policy[]>('/api/v1/snapshot-policies', { signal });
}

export function usePolicies() {
  return useQuery({ queryKey: policyKeys.list(), queryFn: ({ signal }) => getPolicies(signal), refetchInterval: 30_000 });
}
