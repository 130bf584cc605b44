// Client-side routes. The service forwards any non-API, non-file path to index.html,
// so each of these survives a reload.
export const paths = {
  signIn: '/sign-in',
  overview: '/',
} as const;

/** Pages the control plane will have; listed in the nav so the shape is visible, not linked. */
export const comingPages = ['Regions', 'Snapshots', 'Policies', 'Migrations'] as const;
