import { QueryClientProvider } from '@tanstack/react-query';
import { type ReactNode, useEffect, useRef, useState } from 'react';

import { createQueryClient } from '@/lib/react-query';
import { SessionProvider, useSession } from '@/lib/session';

import { AppErrorBoundary } from './components/app-error-boundary';
import { LiveUpdatesProvider } from './live-updates';
import type { EventStreamOptions } from '@/lib/event-stream';

export const sessionEndedNotice =
  'Your session has ended: the service no longer accepts this token. Sign in again.';

/** Query client tied to the session: a 401 from any request signs out, signing out drops the cache. */
function SessionQueryClient({ children }: { children: ReactNode }) {
  const { session, signOut } = useSession();
  // Read by the 401 handler, which outlives renders: a late 401 after sign-out must not
  // replace the "signed out" notice.
  const signedIn = useRef(session !== null);
  useEffect(() => {
    signedIn.current = session !== null;
  }, [session]);

  const [queryClient] = useState(() =>
    createQueryClient({
      onUnauthorized: () => {
        if (signedIn.current) signOut(sessionEndedNotice);
      },
    }),
  );

  // Nothing fetched with one token may be shown to the next.
  useEffect(() => {
    if (session === null) queryClient.clear();
  }, [session, queryClient]);

  return <QueryClientProvider client={queryClient}>{children}</QueryClientProvider>;
}

export function AppProvider({
  children,
  streamOptions,
}: {
  children: ReactNode;
  streamOptions?: Partial<Pick<EventStreamOptions, 'backoff' | 'silenceTimeoutMs'>>;
}) {
  return (
    <AppErrorBoundary>
      <SessionProvider>
        <SessionQueryClient>
          <LiveUpdatesProvider streamOptions={streamOptions}>{children}</LiveUpdatesProvider>
        </SessionQueryClient>
      </SessionProvider>
    </AppErrorBoundary>
  );
}
