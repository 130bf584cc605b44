import { createContext, type ReactNode, useCallback, useContext, useMemo, useState } from 'react';

import type { Identity } from '@/lib/identity';
import {
  clearStoredSession,
  readStoredSession,
  type StoredSession,
  writeStoredSession,
} from '@/lib/session-storage';

type SessionContextValue = {
  /** The signed-in token and who it belongs to; null when signed out. */
  session: StoredSession | null;
  /** Why the user was last signed out (expired token, manual sign-out), for the sign-in screen. */
  notice: string | null;
  signIn: (token: string, identity: Identity) => void;
  signOut: (notice?: string) => void;
};

const SessionContext = createContext<SessionContextValue | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  // The identity is stored beside the token so a reload needs no round trip before the first
  // page; the service still checks the token on every call, and a 401 ends the session.
  const [session, setSession] = useState<StoredSession | null>(readStoredSession);
  const [notice, setNotice] = useState<string | null>(null);

  const signIn = useCallback((token: string, identity: Identity) => {
    writeStoredSession({ token, identity });
    setSession({ token, identity });
    setNotice(null);
  }, []);

  const signOut = useCallback((reason?: string) => {
    clearStoredSession();
    setSession(null);
    setNotice(reason ?? null);
  }, []);

  const value = useMemo(
    () => ({ session, notice, signIn, signOut }),
    [session, notice, signIn, signOut],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionContextValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession must be used inside <SessionProvider>');
  return value;
}
