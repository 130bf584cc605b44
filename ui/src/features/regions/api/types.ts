/** Types of the regions API (RegionView and its FaultStats). */
import type { LatencySummary } from '@/lib/api-types';

export type RegionState = 'ATTACHED' | 'DETACHING' | 'DETACHED';
export const regionStates: readonly RegionState[] = ['ATTACHED', 'DETACHING', 'DETACHED'];

export type RegionStats = {
  faults: { missing: number; wp: number; minor: number };
  events: { remove: number; unmap: number; remap: number; fork: number };
  /** Pages installed, by the path that installed them. */
  installed: { demand: number; faultAround: number; prefetch: number; background: number };
  zeroPages: number;
  bytesInstalled: number;
  /** Fault latency: from read() of the fault event to the ioctl that woke the thread. */
  latency: LatencySummary;
  /** The same latencies as a log2 histogram: bucket i counts [2^i, 2^(i+1)) ns. */
  latencyBuckets: number[];
  blockedNs: number;
  retries: { eexist: number; eagain: number };
};

export type Region = {
  id: string;
  node: string;
  name: string;
  labels: Record<string, string>;
  owner: { pid: number | null; uid: number | null; command: string | null } | null;
  start: number;
  length: number;
  pageSize: number;
  modes: string[];
  source: string | null;
  backing: { kind: string; path: string | null; offset: number | null; restoreId: string | null } | null;
  state: RegionState;
  attachedAt: string | null;
  detachedAt: string | null;
  /** Null while the agent is unreachable or the region is detached. */
  pages: { total: number; present: number } | null;
  stats: RegionStats | null;
};

export type { Page } from '@/lib/api-types';

export const regionKeys = {
  all: ['regions'] as const,
  list: (params: object) => ['regions', 'list', params] as const,
  detail: (id: string) => ['regions', 'detail', id] as const,
};

export function totalFaults(stats: RegionStats | null | undefined): number {
  return stats ? stats.faults.missing + stats.faults.wp + stats.faults.minor : 0;
}
