import { useMutation, useQueryClient } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { type Region, regionKeys } from './types';

const endpoint = '/api/v1/regions';

/**
 * `DELETE /api/v1/regions/{id}`: detach safely. The agent first installs every missing page, so
 * nothing the workload reads later turns into zeros; the answer (202) is the region DETACHING.
 */
export function detachRegion(id: string): Promise<Region> {
  return apiClient.delete<Region>(`${endpoint}/${encodeURIComponent(id)}`);
}

export function useDetachRegion() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: detachRegion,
    onSuccess: () => queryClient.invalidateQueries({ queryKey: regionKeys.all }),
  });
}
