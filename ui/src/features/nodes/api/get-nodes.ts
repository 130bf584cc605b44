import { useQuery } from '@tanstack/react-query';

import { apiClient, isApiError } from '@/lib/api-client';

export type Node = {
  name: string;
  local: boolean;
  state: 'UP' | 'DOWN';
  lastHeartbeat: string | null;
  agent: { state: string; version: string | null; pid: number | null } | null;
  pageChannel: { address: string } | null;
  capabilities: string[];
};

export const nodeKeys = { all: ['nodes'] as const };

/**
 * `GET /api/v1/nodes` (docs/api-migrations.md). Answers null while the service does not have
 * the endpoint yet (404), so pages can leave the nodes out instead of showing an error.
 */
export async function getNodes(signal?: AbortSignal): Promise<Node[] | null> {
  try {
    return await apiClient.get<Node[]>('/api/v1/nodes', { signal });
  } catch (error) {
    if (isApiError(error) && error.status === 404) return null;
    throw error;
  }
}

export function useNodes() {
  return useQuery({ queryKey: nodeKeys.all, queryFn: ({ signal }) => getNodes(signal), refetchInterval: 10_000 });
}
