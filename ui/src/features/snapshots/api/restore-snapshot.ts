import { useMutation, useQueryClient } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { type SnapshotOperation, snapshotKeys } from './types';

const endpoint = '/api/v1/snapshots';

/**
 * `POST /api/v1/snapshots/{id}/restore`: opens a restore session serving the snapshot (202, the
 * operation; `restoreId` once it SUCCEEDED). Name and labels default to the snapshot's region's.
 */
export function restoreSnapshot(input: { id: string; name?: string; labels?: Record<string, string> }): Promise<SnapshotOperation> {
  const body: Record<string, unknown> = {};
  if (input.name) body.name = input.name;
  if (input.labels && Object.keys(input.labels).length > 0) body.labels = input.labels;
  return apiClient.post<SnapshotOperation>(`${endpoint}/${encodeURIComponent(input.id)}/restore`, body);
}

export function useRestoreSnapshot() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: restoreSnapshot,
    onSuccess: (operation) => queryClient.invalidateQueries({ queryKey: snapshotKeys.operations(operation.snapshotId) }),
  });
}
