import { useQuery } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { type Token, tokenKeys } from './types';

/** `GET /api/v1/tokens` (ADMIN): every token, without secrets. */
export function getTokens(signal?: AbortSignal): Promise<Token[]> {
  return apiClient.get<Token[]>('/api/v1/tokens', { signal });
}

export function useTokens() {
  return useQuery({ queryKey: tokenKeys.all, queryFn: ({ signal }) => getTokens(signal) });
}
