import type { ReactNode } from 'react';

import { type Role, roles } from '@/lib/identity';
import { useSession } from '@/lib/session';

/**
 * Whether a token with `role` may do what needs `required`. The service enforces this (403);
 * the UI only uses it to leave out controls a user could not use anyway.
 */
export function can(role: Role | null | undefined, required: Role): boolean {
  if (!role) return false;
  return roles.indexOf(role) >= roles.indexOf(required);
}

/** The signed-in token's role, or null when signed out. */
export function useRole(): Role | null {
  return useSession().session?.identity.role ?? null;
}

/** Renders its children only for tokens whose role is at least `required`. */
export function Authorized({
  required,
  children,
  fallback = null,
}: {
  required: Role;
  children: ReactNode;
  fallback?: ReactNode;
}) {
  return <>{can(useRole(), required) ? children : fallback}</>;
}
