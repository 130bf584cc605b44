// Client-side routes. The service forwards any non-API, non-file path to index.html,
// so each of these survives a reload.
export const paths = {
  signIn: '/sign-in',
  overview: '/',
  regions: '/regions',
  region: (id: string) => `/regions/${encodeURIComponent(id)}`,
  restores: '/restores',
  snapshots: '/snapshots',
  snapshot: (id: string) => `/snapshots/${encodeURIComponent(id)}`,
  policies: '/policies',
  newPolicy: '/policies/new',
  policy: (id: string) => `/policies/${encodeURIComponent(id)}`,
  editPolicy: (id: string) => `/policies/${encodeURIComponent(id)}/edit`,
  migrations: '/migrations',
  migration: (id: string) => `/migrations/${encodeURIComponent(id)}`,
  tokens: '/tokens',
} as const;
