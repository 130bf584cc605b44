import { useMutation, useQueryClient } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';
import type { Role } from '@/lib/identity';

import { type IssuedToken, tokenKeys } from './types';

/** `POST /api/v1/tokens` (ADMIN): the answer is the only time the secret is shown. */
export function createToken(input: { name: string; role: Role; expiresAt: string | null }): Promise<IssuedToken> {
  return apiClient.post<IssuedToken>('/api/v1/tokens', input);
}

export function useCreateToken() {
  const queryClient = useQueryClient();
  return useMutation({ mutationFn: createToken, onSuccess: () => queryClient.invalidateQueries({ queryKey: tokenKeys.all }) });
}
