import { useQuery } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { type PolicyPreview, policyKeys } from './types';

const endpoint = '/api/v1/snapshot-policies';

/** `GET /api/v1/snapshot-policies/{id}/preview`: next fire times and a retention dry run, now. */
export function getPolicyPreview(id: string, count = 5, signal?: AbortSignal): Promise<PolicyPreview> {
  return apiClient.get<PolicyPreview>(`${endpoint}/${encodeURIComponent(id)}/preview?count=${count}`, { signal });
}

export function usePolicyPreview(id: string) {
  return useQuery({ queryKey: policyKeys.preview(id), queryFn: ({ signal }) => getPolicyPreview(id, 5, signal), refetchInterval: 60_000 });
}
