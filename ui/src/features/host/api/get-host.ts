import { queryOptions, useQuery } from '@tanstack/react-query';

import { env } from '@/config/env';
import { apiClient } from '@/lib/api-client';

export type KernelInfo = { sysname: string; release: string; machine: string };

/** What one userfaultfd probe found: the JVM's own in-process one, or the agent's. */
export type UffdProbe = {
  available: boolean;
  /** How the uffd was obtained, e.g. "dev_userfaultfd" or "syscall". */
  source: string | null;
  /** UFFD_API version reported by UFFDIO_API. */
  api: number | null;
  features: string[];
  ioctls: string[];
  /** Whether the PAGEMAP_SCAN ioctl on /proc/pid/pagemap works (cheap dirty scans). */
  pagemapScan: boolean;
  error: string | null;
};

export type AgentState = 'STARTING' | 'READY' | 'DOWN';
export type AgentMode = 'EMBEDDED' | 'EXTERNAL';

export type AgentInfo = {
  state: AgentState;
  mode: AgentMode;
  socket: string | null;
  pid: number | null;
  version: string | null;
  protocol: number | null;
  restarts: number;
  since: string | null;
  lastError: string | null;
  kernel: KernelInfo | null;
  /** Null until the agent is READY and has reported its own probe. */
  userfaultfd: UffdProbe | null;
};

export type HostInfo = {
  hostname: string;
  kernel: KernelInfo;
  userfaultfd: UffdProbe;
  agent: AgentInfo;
};

/** `GET /api/v1/host`: the kernel, both userfaultfd probes and the agent's state. */
export function getHost({ signal }: { signal?: AbortSignal } = {}): Promise<HostInfo> {
  return apiClient.get<HostInfo>('/api/v1/host', { signal });
}

export const hostQueryKey = ['host'] as const;

export function hostQueryOptions({ refetchInterval = env.hostRefreshMs } = {}) {
  return queryOptions({
    queryKey: hostQueryKey,
    queryFn: ({ signal }) => getHost({ signal }),
    // Polled so that an agent restart or crash shows up without a reload.
    refetchInterval,
  });
}

export function useHost(options?: { refetchInterval?: number }) {
  return useQuery(hostQueryOptions(options));
}
