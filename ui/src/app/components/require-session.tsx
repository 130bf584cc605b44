import type { ReactNode } from 'react';
import { Navigate, useLocation } from 'react-router';

import { paths } from '@/config/paths';
import { useSession } from '@/lib/session';

export type SignInLocationState = { from?: string };

/** Sends anyone without a session to sign-in, remembering where they were going. */
export function RequireSession({ children }: { children: ReactNode }) {
  const { session } = useSession();
  const location = useLocation();
  if (session === null) {
    const state: SignInLocationState = {
      from: `${location.pathname}${location.search}${location.hash}`,
    };
    return <Navigate to={paths.signIn} replace state={state} />;
  }
  return <>{children}</>;
}
