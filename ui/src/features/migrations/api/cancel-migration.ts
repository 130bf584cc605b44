import { useMutation, useQueryClient } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { type Migration, migrationKeys } from './types';

const endpoint = '/api/v1/migrations';

/** `POST /api/v1/migrations/{id}/cancel`: stop before switchover, the source untouched; after switchover 409 migration-past-switchover. */
export function cancelMigration(id: string): Promise<Migration | undefined> {
  return apiClient.post<Migration | undefined>(`${endpoint}/${encodeURIComponent(id)}/cancel`);
}

export function useCancelMigration() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: cancelMigration,
    onSuccess: (_job, id) => queryClient.invalidateQueries({ queryKey: migrationKeys.detail(id) }),
  });
}
