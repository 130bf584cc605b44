import { useMutation, useQueryClient } from '@tanstack/react-query';

import { requestWithResponse } from '@/lib/api-client';

import type { PolicyWithEtag } from './get-policy';
import { type Policy, type PolicyInput, policyKeys } from './types';

const endpoint = '/api/v1/snapshot-policies';

/**
 * `PUT /api/v1/snapshot-policies/{id}` with If-Match: replaces the policy only if it is still the
 * version the form was filled from (else 412, and nothing changes).
 */
export async function updatePolicy({ id, etag, input }: { id: string; etag: string; input: PolicyInput }): Promise<PolicyWithEtag> {
  const response = await requestWithResponse<Policy>(`${endpoint}/${encodeURIComponent(id)}`, {
    method: 'PUT',
    body: input,
    headers: { 'If-Match': etag },
  });
  return { ...response.data, etag: response.etag };
}

export function useUpdatePolicy() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: updatePolicy,
    onSuccess: (policy) => {
      queryClient.setQueryData(policyKeys.detail(policy.id), policy);
      void queryClient.invalidateQueries({ queryKey: policyKeys.all });
    },
  });
}
