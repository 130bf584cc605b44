import { useMutation, useQueryClient } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { type SnapshotOperation, snapshotKeys } from './types';

const endpoint = '/api/v1/snapshots';

/**
 * `DELETE /api/v1/snapshots/{id}[?consolidate=true]`: 202 with the operation, or 204 when already
 * deleted. Refused with `snapshot-has-dependents` (409) while an incremental snapshot is based on
 * it, unless `consolidate` folds it into its dependents first.
 */
export function deleteSnapshot(input: { id: string; consolidate?: boolean }): Promise<SnapshotOperation | undefined> {
  const query = input.consolidate ? '?consolidate=true' : '';
  return apiClient.delete<SnapshotOperation | undefined>(`${endpoint}/${encodeURIComponent(input.id)}${query}`);
}

export function useDeleteSnapshot() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: deleteSnapshot,
    onSuccess: (_operation, input) => {
      void queryClient.invalidateQueries({ queryKey: snapshotKeys.detail(input.id) });
      void queryClient.invalidateQueries({ queryKey: snapshotKeys.operations(input.id) });
      void queryClient.invalidateQueries({ queryKey: ['snapshots', 'list'] });
    },
  });
}
