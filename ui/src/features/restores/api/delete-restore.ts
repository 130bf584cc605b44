import { useMutation, useQueryClient } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { restoreKeys } from './types';

const endpoint = '/api/v1/restores';

/**
 * `DELETE /api/v1/restores/{id}`: closes the session's socket. Refused (409) while one of its
 * regions is attached and not fully populated: detach the region first.
 */
export function deleteRestore(id: string): Promise<void> {
  return apiClient.delete<void>(`${endpoint}/${encodeURIComponent(id)}`);
}

export function useDeleteRestore() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: deleteRestore,
    onSuccess: () => queryClient.invalidateQueries({ queryKey: restoreKeys.all }),
  });
}
