import { useMutation, useQueryClient } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { type SnapshotOperation, snapshotKeys } from './types';

const endpoint = '/api/v1/snapshots';

/** `POST /api/v1/snapshots/{id}/verify`: re-reads the image and checks every page checksum (202, the operation). */
export function verifySnapshot(id: string): Promise<SnapshotOperation> {
  return apiClient.post<SnapshotOperation>(`${endpoint}/${encodeURIComponent(id)}/verify`);
}

export function useVerifySnapshot() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: verifySnapshot,
    onSuccess: (operation) => queryClient.invalidateQueries({ queryKey: snapshotKeys.operations(operation.snapshotId) }),
  });
}
