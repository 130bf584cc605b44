import { useMutation, useQueryClient } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { type Policy, policyKeys } from './types';

const endpoint = '/api/v1/snapshot-policies';

/** `POST /api/v1/snapshot-policies/{id}/pause`: no runs and no pruning until resumed. */
export function pausePolicy(id: string): Promise<Policy> {
  return apiClient.post<Policy>(`${endpoint}/${encodeURIComponent(id)}/pause`);
}

export function usePausePolicy() {
  const queryClient = useQueryClient();
  return useMutation({ mutationFn: pausePolicy, onSuccess: () => queryClient.invalidateQueries({ queryKey: policyKeys.all }) });
}
