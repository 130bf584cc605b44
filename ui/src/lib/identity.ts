/** Token roles, weakest first: each role can do everything the ones before it can. */
export const roles = ['VIEWER', 'OPERATOR', 'ADMIN'] as const;
export type Role = (typeof roles)[number];

/** Who the bearer token belongs to, as `GET /api/v1/whoami` reports it. */
export type Identity = { tokenId: string; name: string; role: Role };

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (roles as readonly string[]).includes(value);
}

export function isIdentity(value: unknown): value is Identity {
  if (typeof value !== 'object' || value === null) return false;
  const { tokenId, name, role } = value as Record<string, unknown>;
  return typeof tokenId === 'string' && typeof name === 'string' && isRole(role);
}
