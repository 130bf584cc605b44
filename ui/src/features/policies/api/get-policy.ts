import { useQuery } from '@tanstack/react-query';

import { requestWithResponse } from '@/lib/api-client';

import { type Policy, policyKeys } from './types';

const endpoint = '/api/v1/snapshot-policies';

export type PolicyWithEtag = Policy & { etag: string | null };

/** `GET /api/v1/snapshot-policies/{id}` with the ETag that PUT and DELETE take in If-Match. */
export async function getPolicy(id: string, signal?: AbortSignal): Promise<PolicyWithEtag> {
  const response = await requestWithResponse<Policy>(`${endpoint}/${encodeURIComponent(id)}`, { signal });
  return { ...response.data, etag: response.etag };
}

export function usePolicy(id: string) {
  return useQuery({ queryKey: policyKeys.detail(id), queryFn: ({ signal }) => getPolicy(id, signal) });
}
