import { useMutation, useQueryClient } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { tokenKeys } from './types';

const endpoint = '/api/v1/tokens';

/** `DELETE /api/v1/tokens/{id}` (ADMIN): refused with `last-admin-token` (409) for the last admin token. */
export function revokeToken(id: string): Promise<void> {
  return apiClient.delete<void>(`${endpoint}/${encodeURIComponent(id)}`);
}

export function useRevokeToken() {
  const queryClient = useQueryClient();
  return useMutation({ mutationFn: revokeToken, onSuccess: () => queryClient.invalidateQueries({ queryKey: tokenKeys.all }) });
}
