import { useMutation, useQueryClient } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { type RestoreMode, type RestoreSession, restoreKeys } from './types';

export type CreateRestoreInput = {
  image: string;
  name: string;
  labels: Record<string, string>;
  faultAroundPages: number;
  populateDelayMs: number;
  workingSet: 'auto' | 'record' | 'replay' | 'off';
  mode: RestoreMode;
};

/** The service's defaults (docs/restore.md), which the form starts from. */
export const restoreDefaults = { faultAroundPages: 16, populateDelayMs: 1000, workingSet: 'auto', mode: 'copy' } as const;

/** `POST /api/v1/restores`: opens a session; its socket is what the workload or Firecracker connects to. */
export function createRestore(input: CreateRestoreInput): Promise<RestoreSession> {
  return apiClient.post<RestoreSession>('/api/v1/restores', input);
}

export function useCreateRestore() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: createRestore,
    onSuccess: () => queryClient.invalidateQueries({ queryKey: restoreKeys.all }),
  });
}
