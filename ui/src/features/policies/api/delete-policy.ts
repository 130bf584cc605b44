import { useMutation, useQueryClient } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { policyKeys } from './types';

const endpoint = '/api/v1/snapshot-policies';

/** `DELETE /api/v1/snapshot-policies/{id}`: the policy and its run history go; its snapshots stay. */
export function deletePolicy({ id, etag }: { id: string; etag: string | null }): Promise<void> {
  return apiClient.delete<void>(`${endpoint}/${encodeURIComponent(id)}`, {
    headers: etag ? { 'If-Match': etag } : {},
  });
}

export function useDeletePolicy() {
  const queryClient = useQueryClient();
  return useMutation({ mutationFn: deletePolicy, onSuccess: () => queryClient.invalidateQueries({ queryKey: policyKeys.all }) });
}
