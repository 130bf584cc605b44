import { useMutation, useQueryClient } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { type Migration, migrationKeys } from './types';

const endpoint = '/api/v1/migrations';

/** `POST /api/v1/migrations/{id}/start-postcopy`: switch over now; PRECOPY only, else 409 migration-wrong-phase. */
export function startPostcopy(id: string): Promise<Migration | undefined> {
  return apiClient.post<Migration | undefined>(`${endpoint}/${encodeURIComponent(id)}/start-postcopy`);
}

export function useStartPostcopy() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: startPostcopy,
    onSuccess: (_job, id) => queryClient.invalidateQueries({ queryKey: migrationKeys.detail(id) }),
  });
}
