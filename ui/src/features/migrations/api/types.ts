import type { LatencySummary } from '@/lib/api-types';

/** Types of the migrations contract (docs/api-migrations.md). */
export type MigrationPhase = 'PENDING' | 'PRECOPY' | 'SWITCHOVER' | 'POSTCOPY' | 'COMPLETED' | 'PAUSED' | 'FAILED' | 'CANCELLED';

/** The way a job goes when nothing goes wrong. */
export const happyPath: readonly MigrationPhase[] = ['PENDING', 'PRECOPY', 'SWITCHOVER', 'POSTCOPY', 'COMPLETED'];

export type MigrationOptions = {
  maxDowntimeMs: number;
  bandwidthLimitBytesPerSec: number;
  maxPrecopyRounds: number;
  postcopy: 'auto' | 'manual';
  postcopyAfterMs: number;
  /** zstd: the source compresses frames of pages on the page channel where that makes them smaller. */
  compress: 'none' | 'zstd';
  /** With postcopy auto: the source may throttle its workload while precopy rounds do not converge. */
  autoConverge: boolean;
  /** The source leaves out a page due to be sent again whose bytes are those it last sent (by fingerprint). */
  skipUnchanged: boolean;
  /** 1 to 8: the connections that carry the precopy and background postcopy pages (demand requests keep their own). */
  pushConnections: number;
};

/** Migrations move 4 KiB pages (the agent refuses others): what compressed pages took before compression. */
export const migrationPageSize = 4096;

export const migrationDefaults: MigrationOptions = {
  maxDowntimeMs: 10,
  bandwidthLimitBytesPerSec: 0,
  maxPrecopyRounds: 10,
  postcopy: 'auto',
  postcopyAfterMs: 30000,
  compress: 'none',
  autoConverge: false,
  skipUnchanged: true,
  pushConnections: 1,
};

/** Auto-converge on the source: how it throttles the workload (null without the option). */
export type MigrationThrottle = {
  state: 'ready' | 'throttling' | 'stopped' | 'unavailable';
  /** The share of every 100 ms the workload is stopped now, or was when the switchover ended the throttle. */
  pct: number;
  throttledMs: number;
};

export type Migration = {
  id: string;
  regionId: string;
  regionName: string;
  sourceNode: string;
  destinationNode: string;
  destinationRegionId: string | null;
  /** Where the destination workload attaches (libfaultline, by region name); null until the destination agent accepted the job. */
  destinationSocket: string | null;
  phase: MigrationPhase;
  pausedIn: MigrationPhase | null;
  options: MigrationOptions;
  createdAt: string;
  startedAt: string | null;
  switchoverAt: string | null;
  completedAt: string | null;
  error: string | null;
  timeline: { phase: MigrationPhase; at: string }[];
  stats: {
    regionBytes: number;
    totalMs: number;
    setupMs: number;
    downtimeMs: number | null;
    transferred: {
      precopyBytes: number;
      postcopyBytes: number;
      demandBytes: number;
      precopyPages: number;
      postcopyPages: number;
      demandPages: number;
      /** Of the pages sent, those that travelled compressed (compress: zstd), and the bytes they took on the wire. */
      compressedPages: number;
      compressedBytes: number;
      /** With skipUnchanged: pages due to be sent again that were not, their bytes being those last sent (per round). */
      unchangedPages: number;
    };
    remainingBytes: number;
    dirtyRateBytesPerSec: number;
    rounds: number;
    postcopyRequests: number;
    /** How long the destination's faults waited for pages fetched on demand. */
    demandLatency: LatencySummary;
    blockedNs: number;
    throughputBytesPerSec: number;
    throttle: MigrationThrottle | null;
    /** The connections the source pushes pages on (1 where the destination agent takes no more); null from agents older than the option. */
    pushConnections: number | null;
  };
};

export type { Page } from '@/lib/api-types';

export const migrationKeys = {
  all: ['migrations'] as const,
  list: (filter: object) => ['migrations', 'list', filter] as const,
  detail: (id: string) => ['migrations', 'detail', id] as const,
};

export function isRunning(phase: MigrationPhase): boolean {
  return phase === 'PENDING' || phase === 'PRECOPY' || phase === 'SWITCHOVER' || phase === 'POSTCOPY';
}

/** Whether the job has switched over: from then on only the destination has the latest pages. */
export function pastSwitchover(job: Pick<Migration, 'phase' | 'pausedIn' | 'switchoverAt'>): boolean {
  const phase = job.phase === 'PAUSED' ? job.pausedIn : job.phase;
  return job.switchoverAt !== null || phase === 'SWITCHOVER' || phase === 'POSTCOPY' || phase === 'COMPLETED';
}
