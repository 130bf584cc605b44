import type { LatencySummary } from '@/lib/api-types';

export type SnapshotState = 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'DELETING' | 'DELETED';
export const snapshotStates: readonly SnapshotState[] = ['PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'DELETING', 'DELETED'];
export type SnapshotKind = 'FULL' | 'INCREMENTAL';

export type Snapshot = {
  id: string;
  regionId: string;
  regionName: string;
  regionLabels: Record<string, string>;
  kind: SnapshotKind;
  parentId: string | null;
  state: SnapshotState;
  policyId: string | null;
  requireQuiesce: boolean;
  requestedBy: string;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  deletedAt: string | null;
  durationMs: number | null;
  sizeBytes: number | null;
  pages: { total: number; present: number; zero: number } | null;
  /** How long writes to pages not yet saved were held while the snapshot ran. */
  writerStall: LatencySummary | null;
  quiesced: 'YES' | 'NO' | 'TIMEOUT' | null;
  verification: { state: 'UNVERIFIED' | 'VERIFIED' | 'CORRUPT'; lastVerifiedAt: string | null } | null;
  checksum: string | null;
  imagePath: string | null;
  error: string | null;
};

export type OperationState = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';

export type SnapshotOperation = {
  id: string;
  snapshotId: string;
  kind: 'VERIFY' | 'RESTORE' | 'DELETE';
  state: OperationState;
  consolidate: boolean;
  restoreName: string | null;
  restoreLabels: Record<string, string> | null;
  requestedBy: string;
  requestedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  restoreId: string | null;
  result: string | null;
  error: string | null;
};

export type { Page } from '@/lib/api-types';

export type SnapshotFilter = {
  regionId?: string;
  policyId?: string;
  states?: SnapshotState[];
  kind?: SnapshotKind | '';
  page?: number;
  size?: number;
};

export const snapshotKeys = {
  all: ['snapshots'] as const,
  list: (filter: SnapshotFilter) => ['snapshots', 'list', filter] as const,
  detail: (id: string) => ['snapshots', 'detail', id] as const,
  operations: (id: string) => ['snapshots', 'operations', id] as const,
};

/** States a snapshot job is still in: the UI follows it until it leaves them. */
export function isActive(state: SnapshotState): boolean {
  return state === 'PENDING' || state === 'RUNNING' || state === 'DELETING';
}
