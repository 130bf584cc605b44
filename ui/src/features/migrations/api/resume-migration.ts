import { useMutation, useQueryClient } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { type Migration, migrationKeys } from './types';

const endpoint = '/api/v1/migrations';

/** `POST /api/v1/migrations/{id}/resume`: continue a PAUSED job where it stopped (202). */
export function resumeMigration(id: string): Promise<Migration | undefined> {
  return apiClient.post<Migration | undefined>(`${endpoint}/${encodeURIComponent(id)}/resume`);
}

export function useResumeMigration() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: resumeMigration,
    onSuccess: (_job, id) => queryClient.invalidateQueries({ queryKey: migrationKeys.detail(id) }),
  });
}
