export type Retention = {
  keepLast: number;
  hourly: number;
  daily: number;
  weekly: number;
  monthly: number;
  /** ISO-8601 (P30D, PT12H) or short (30d, 12h); null: no limit. */
  maxAge: string | null;
  keepVerified: number;
};

export type Policy = {
  id: string;
  name: string;
  selector: string;
  schedule: string;
  timeZone: string;
  fullEvery: number;
  retention: Retention;
  paused: boolean;
  requireQuiesce: boolean;
  version: number;
  createdAt: string;
  updatedAt: string;
  lastFireTime: string | null;
  nextRunAt: string | null;
};

export type PolicyInput = Pick<Policy, 'name' | 'selector' | 'schedule' | 'timeZone' | 'fullEvery' | 'retention' | 'paused' | 'requireQuiesce'>;

export type PolicyPreview = {
  policyId: string;
  name: string;
  paused: boolean;
  timeZone: string;
  /** `at` is local time with offset in the policy's zone. */
  nextRuns: { at: string; utc: string }[];
  retention: {
    evaluatedAt: string;
    keep: number;
    prune: number;
    snapshots: {
      snapshotId: string;
      regionId: string;
      regionName: string;
      createdAt: string;
      state: string;
      kind: string;
      decision: 'KEEP' | 'PRUNE';
      reasons: string[];
    }[];
  };
};

export type PolicyRun = {
  fireTime: string;
  regionId: string | null;
  regionName: string | null;
  snapshotId: string | null;
  kind: string | null;
  skippedReason: string | null;
  recordedAt: string;
};

export type { Page } from '@/lib/api-types';

export const policyKeys = {
  all: ['policies'] as const,
  list: () => ['policies', 'list'] as const,
  detail: (id: string) => ['policies', 'detail', id] as const,
  preview: (id: string) => ['policies', 'preview', id] as const,
  runs: (id: string, page: number) => ['policies', 'runs', id, page] as const,
};
