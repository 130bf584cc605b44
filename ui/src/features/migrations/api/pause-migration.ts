import { useMutation, useQueryClient } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { type Migration, migrationKeys } from './types';

const endpoint = '/api/v1/migrations';

/** `POST /api/v1/migrations/{id}/pause`: switch the job to PAUSED where it is (202). */
export function pauseMigration(id: string): Promise<Migration | undefined> {
  return apiClient.post<Migration | undefined>(`${endpoint}/${encodeURIComponent(id)}/pause`);
}

export function usePauseMigration() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: pauseMigration,
    onSuccess: (_job, id) => queryClient.invalidateQueries({ queryKey: migrationKeys.detail(id) }),
  });
}
