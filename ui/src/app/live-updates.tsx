import { type QueryClient, useQueryClient } from '@tanstack/react-query';
import { createContext, type ReactNode, useContext, useEffect, useRef, useState } from 'react';

import { withEvent } from '@/features/events/api/get-events';
import { eventKeys, type FaultlineEvent, isFaultlineEvent } from '@/features/events/api/types';
import { hostQueryKey } from '@/features/host/api/get-host';
import { migrationKeys } from '@/features/migrations/api/types';
import { nodeKeys } from '@/features/nodes/api/get-nodes';
import { policyKeys } from '@/features/policies/api/types';
import { regionKeys } from '@/features/regions/api/types';
import { restoreKeys } from '@/features/restores/api/types';
import { snapshotKeys } from '@/features/snapshots/api/types';
import { type EventStreamOptions, openEventStream, type StreamStatus } from '@/lib/event-stream';
import { useSession } from '@/lib/session';

const StreamStatusContext = createContext<StreamStatus>({ state: 'connecting' });

export function useStreamStatus(): StreamStatus {
  return useContext(StreamStatusContext);
}

/**
 * What an event means for the cached data: it joins the recent-events list, and the queries
 * about its subject are refetched, so every page that shows that subject updates without a
 * reload. A restore's progress also moves its region, and a region change moves the overview.
 */
export function applyEvent(queryClient: QueryClient, event: FaultlineEvent) {
  queryClient.setQueryData<FaultlineEvent[]>(eventKeys.recent, (events) => withEvent(events, event));
  const refetch = (queryKey: readonly unknown[]) => void queryClient.invalidateQueries({ queryKey });
  switch (event.subjectType) {
    case 'region':
      refetch(regionKeys.all);
      refetch(restoreKeys.all);
      break;
    case 'restore':
      refetch(restoreKeys.all);
      refetch(regionKeys.all);
      break;
    case 'snapshot':
      refetch(snapshotKeys.all);
      break;
    case 'policy':
      refetch(policyKeys.all);
      break;
    case 'migration':
      refetch(migrationKeys.detail(event.subjectId));
      refetch(['migrations', 'list']);
      if (event.kind !== 'migration.progress') refetch(regionKeys.all);
      break;
    case 'agent':
    case 'node':
      refetch(hostQueryKey);
      refetch(nodeKeys.all);
      break;
    default:
      break;
  }
}

/**
 * Follows the service's event stream while signed in and applies each event to the query
 * cache. Its status feeds the indicator in the header, so a lost stream is visible.
 */
export function LiveUpdatesProvider({
  children,
  streamOptions,
}: {
  children: ReactNode;
  /** Tests shorten the backoff. */
  streamOptions?: Partial<Pick<EventStreamOptions, 'backoff' | 'silenceTimeoutMs'>>;
}) {
  const { session, signOut } = useSession();
  const queryClient = useQueryClient();
  const [status, setStatus] = useState<StreamStatus>({ state: 'connecting' });
  const token = session?.token ?? null;
  // Fixed for the provider's life: a new object each render must not reopen the stream.
  const options = useRef(streamOptions);

  useEffect(() => {
    if (token === null) return undefined;
    const stream = openEventStream({
      ...options.current,
      token,
      onStatus: setStatus,
      onUnauthorized: () => signOut('Your session has ended: the service no longer accepts this token. Sign in again.'),
      onEvent: (message) => {
        let event: unknown;
        try {
          event = JSON.parse(message.data);
        } catch {
          return;
        }
        if (isFaultlineEvent(event)) applyEvent(queryClient, event);
      },
    });
    return () => stream.close();
  }, [token, queryClient, signOut]);

  return <StreamStatusContext.Provider value={status}>{children}</StreamStatusContext.Provider>;
}
