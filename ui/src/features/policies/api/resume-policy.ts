import { useMutation, useQueryClient } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { type Policy, policyKeys } from './types';

const endpoint = '/api/v1/snapshot-policies';

/** `POST /api/v1/snapshot-policies/{id}/resume`: runs again from its next fire time; missed ones are not run. */
export function resumePolicy(id: string): Promise<Policy> {
  return apiClient.post<Policy>(`${endpoint}/${encodeURIComponent(id)}/resume`);
}

export function useResumePolicy() {
  const queryClient = useQueryClient();
  return useMutation({ mutationFn: resumePolicy, onSuccess: () => queryClient.invalidateQueries({ queryKey: policyKeys.all }) });
}
