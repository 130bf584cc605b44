export type RestoreState = 'REQUESTED' | 'WAITING' | 'ACTIVE' | 'COMPLETE' | 'FAILED' | 'CLOSED';

export type RestoreSession = {
  id: string;
  node: string;
  name: string;
  labels: Record<string, string>;
  /** For a snapshot's session, the newest image of the snapshot's chain (served straight from the files). */
  image: { path: string; size: number };
  /** The snapshot a session restored through POST /snapshots/{id}/restore serves; null for an image's. */
  snapshotId: string | null;
  /** The handoff socket to give the workload (FAULTLINE_HANDOFF) or Firecracker (mem_backend.backend_path). */
  socket: string | null;
  state: RestoreState;
  createdAt: string;
  closedAt: string | null;
  /** mode: copy (pages copied into each workload) or clone (one shared copy, copy-on-write per clone). */
  options: { faultAroundPages: number; populateDelayMs: number; workingSet: string; mode: RestoreMode };
  regions: string[];
  source: string | null;
  pages: { total: number; present: number } | null;
  /** Pages present / total, 0 to 1; null until a workload attached. */
  progress: number | null;
  workingSet: { mode: string; file: string | null; recordedPages: number; replayedPages: number } | null;
  /** Mode clone: the image's one copy in memory and what each clone holds beside it; null otherwise. */
  clones: RestoreClones | null;
  error: string | null;
  /** Restore-to-run, ms from the request to the first workload, first fault served and COMPLETE; null until then. */
  timing?: { registeredMs: number | null; firstFaultMs: number | null; completeMs: number | null } | null;
};

export type RestoreMode = 'copy' | 'clone';

export type RestoreClones = {
  sharedBytes: number;
  sharedResidentBytes: number;
  privateBytes: number;
  pssBytes: number;
  clones: { regionId: string; pid: number; sharedBytes: number; privateBytes: number; pssBytes: number }[];
};

export const restoreStates: RestoreState[] = ['REQUESTED', 'WAITING', 'ACTIVE', 'COMPLETE', 'FAILED', 'CLOSED'];

/** What the service sorts the list by (`sort=field,direction`). */
export type RestoreSort = 'createdAt,desc' | 'createdAt,asc' | 'name,asc' | 'name,desc' | 'state,asc' | 'node,asc';

export const restoreKeys = {
  all: ['restores'] as const,
  list: (params: object = {}) => ['restores', 'list', params] as const,
};

export function isOpen(state: RestoreState): boolean {
  return state === 'WAITING' || state === 'ACTIVE' || state === 'COMPLETE';
}
