import type { HostInfo, UffdProbe } from '@/features/host/api/get-host';
import type { Region, RegionStats } from '@/features/regions/api/types';
import type { Snapshot } from '@/features/snapshots/api/types';
import type { Identity } from '@/lib/identity';

export const adminToken = 'fl_admin_2f9c1d7e';
export const viewerToken = 'fl_viewer_7a41b0c3';

export const adminIdentity: Identity = {
  tokenId: '0b6f8a52-3c1e-4f0a-9d8e-2a7c5b1e9f30',
  name: 'admin',
  role: 'ADMIN',
};

export const viewerIdentity: Identity = {
  tokenId: '5d2e9c14-7b3a-4e61-8f02-c9a1d4b6e7f8',
  name: 'dashboard',
  role: 'VIEWER',
};

/** The example from the service contract: kernel 6.18 with every feature Faultline wants. */
export function probe(overrides: Partial<UffdProbe> = {}): UffdProbe {
  return {
    available: true,
    source: 'dev_userfaultfd',
    api: 170,
    features: [
      'pagefault_flag_wp',
      'event_fork',
      'event_remap',
      'event_remove',
      'missing_hugetlbfs',
      'missing_shmem',
      'event_unmap',
      'sigbus',
      'thread_id',
      'minor_hugetlbfs',
      'minor_shmem',
      'exact_address',
      'wp_hugetlbfs_shmem',
      'wp_unpopulated',
      'poison',
      'wp_async',
      'move',
    ],
    ioctls: ['register', 'unregister', 'api', 'wake', 'copy', 'zeropage', 'move', 'writeprotect', 'continue', 'poison'],
    pagemapScan: true,
    error: null,
    ...overrides,
  };
}

export function hostInfo(overrides: { agent?: Partial<HostInfo['agent']> } & Partial<Omit<HostInfo, 'agent'>> = {}): HostInfo {
  const { agent, ...rest } = overrides;
  const kernel = { sysname: 'Linux', release: '6.18.44-fc-v669', machine: 'x86_64' };
  return {
    hostname: 'vm',
    kernel,
    userfaultfd: probe(),
    agent: {
      state: 'READY',
      mode: 'EMBEDDED',
      socket: '/var/lib/faultline/agent.sock',
      pid: 1234,
      version: '0.1.0',
      protocol: 1,
      restarts: 0,
      since: '2026-11-24T19:54:04Z',
      lastError: null,
      kernel,
      userfaultfd: probe(),
      ...agent,
    },
    ...rest,
  };
}

export function problem(status: number, title: string, detail: string, extra: Record<string, unknown> = {}) {
  return {
    type: `https://faultline.dev/problems/${title.toLowerCase().replace(/\s+/g, '-')}`,
    title,
    status,
    detail,
    instance: '/api/v1/whoami',
    ...extra,
  };
}

export const operatorToken = 'fl_operator_91c3e5aa';
export const operatorIdentity: Identity = {
  tokenId: '8c0d3f61-5a2b-4c7e-9e14-3b6f0a2d7c55',
  name: 'ops',
  role: 'OPERATOR',
};

export function page<T>(items: T[], overrides: Partial<{ page: number; size: number; totalItems: number; totalPages: number }> = {}) {
  return { items, page: 0, size: 50, totalItems: items.length, totalPages: items.length ? 1 : 0, ...overrides };
}

export function regionStats(overrides: Partial<RegionStats> = {}): RegionStats {
  return {
    faults: { missing: 1200, wp: 0, minor: 0 },
    events: { remove: 0, unmap: 0, remap: 0, fork: 0 },
    installed: { demand: 1200, faultAround: 9000, prefetch: 0, background: 6184 },
    zeroPages: 2048,
    bytesInstalled: 67108864,
    latency: { count: 1200, p50Ns: 8192, p99Ns: 65536, p999Ns: null, maxNs: 400_000 },
    latencyBuckets: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1000, 150, 50],
    blockedNs: 15_000_000,
    retries: { eexist: 0, eagain: 0 },
    ...overrides,
  };
}

export function region(overrides: Partial<Region> = {}): Region {
  return {
    id: '0b0f6c1e-8a4d-4c52-9f3e-5d7a1b2c3d4e',
    node: 'node-a',
    name: 'demo',
    labels: { app: 'faultline-demo' },
    owner: { pid: 4242, uid: 1000, command: 'faultline-demo' },
    start: 0x7f3a00000000,
    length: 67108864,
    pageSize: 4096,
    modes: ['missing'],
    source: 'libfaultline',
    backing: { kind: 'image', path: '/var/lib/faultline/images/demo.img', offset: 0, restoreId: '5e1f0000-0000-4000-8000-000000000001' },
    state: 'ATTACHED',
    attachedAt: '2026-11-24T20:00:00Z',
    detachedAt: null,
    pages: { total: 16384, present: 4096 },
    stats: regionStats(),
    ...overrides,
  };
}

export function snapshot(overrides: Partial<Snapshot> = {}): Snapshot {
  return {
    id: '6f1c0000-aaaa-4bbb-8ccc-000000000001',
    regionId: region().id,
    regionName: 'demo',
    regionLabels: { app: 'faultline-demo' },
    kind: 'FULL',
    parentId: null,
    state: 'COMPLETED',
    policyId: null,
    requireQuiesce: false,
    requestedBy: 'admin',
    createdAt: '2026-11-24T20:10:00Z',
    startedAt: '2026-11-24T20:10:00Z',
    completedAt: '2026-11-24T20:10:02Z',
    deletedAt: null,
    durationMs: 2000,
    sizeBytes: 67108864,
    pages: { total: 16384, present: 14336, zero: 2048 },
    writerStall: { count: 3, p50Ns: null, p99Ns: null, p999Ns: 80_000, maxNs: 120_000 },
    quiesced: null,
    verification: { state: 'UNVERIFIED', lastVerifiedAt: null },
    checksum: 'crc32c:1234abcd',
    imagePath: '/var/lib/faultline/snapshots/x.img',
    error: null,
    ...overrides,
  };
}

export const engineUnavailable = 'snapshot engine not available in this agent version';
