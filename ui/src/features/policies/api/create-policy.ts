import { useMutation, useQueryClient } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { type Policy, type PolicyInput, policyKeys } from './types';

/** `POST /api/v1/snapshot-policies`. */
export function createPolicy(input: PolicyInput): Promise<Policy> {
  return apiClient.post<Policy>('/api/v1/snapshot-policies', input);
}

export function useCreatePolicy() {
  const queryClient = useQueryClient();
  return useMutation({ mutationFn: createPolicy, onSuccess: () => queryClient.invalidateQueries({ queryKey: policyKeys.all }) });
}
