import type { HostInfo, UffdProbe } from '@/features/host/api/get-host';
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
