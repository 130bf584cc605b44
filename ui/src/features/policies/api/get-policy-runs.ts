import { keepPreviousData, useQuery } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { type Page, type PolicyRun, policyKeys } from './types';

const endpoint = '/api/v1/snapshot-policies';

/** `GET /api/v1/snapshot-policies/{id}/runs`: what each fire time did for each region, newest first. */
export function getPolicyRuns(id: string, page: number, signal?: AbortSignal): Promise<Page<PolicyRun>> {
  return apiClient.get<Page<PolicyRun>>(`${endpoint}/${encodeURIComponent(id)}/runs?page=${page}&size=20`, { signal });
}

export function usePolicyRuns(id: string, page: number) {
  return useQuery({
    queryKey: policyKeys.runs(id, page),
    queryFn: ({ signal }) => getPolicyRuns(id, page, signal),
    placeholderData: keepPreviousData,
    refetchInterval: 30_000,
  });
}
