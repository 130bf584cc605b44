import { useMutation, useQueryClient } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { type Migration, migrationKeys, type MigrationOptions } from './types';

/** `POST /api/v1/migrations`: 202 with the job; one active job per region (409 migration-in-progress). */
export function startMigration(input: { regionId: string; destinationNode: string; options: MigrationOptions }): Promise<Migration> {
  return apiClient.post<Migration>('/api/v1/migrations', input);
}

export function useStartMigration() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: startMigration,
    onSuccess: (job) => {
      queryClient.setQueryData(migrationKeys.detail(job.id), job);
      void queryClient.invalidateQueries({ queryKey: ['migrations', 'list'] });
    },
  });
}
