import { useQuery } from '@tanstack/react-query';

import { apiClient } from '@/lib/api-client';

import { eventKeys, type FaultlineEvent } from './types';

const endpoint = '/api/v1/events';

/** `GET /api/v1/events`: the newest events; the event stream adds new ones to this list live. */
export function getRecentEvents(limit = 50, signal?: AbortSignal): Promise<FaultlineEvent[]> {
  return apiClient.get<FaultlineEvent[]>(`${endpoint}?limit=${limit}`, { signal });
}

export function useRecentEvents() {
  return useQuery({ queryKey: eventKeys.recent, queryFn: ({ signal }) => getRecentEvents(50, signal), staleTime: Infinity });
}

/** Puts an event from the stream at the top of the list, once, keeping the list short. */
export function withEvent(events: FaultlineEvent[] | undefined, event: FaultlineEvent, max = 50): FaultlineEvent[] | undefined {
  if (!events) return events;
  if (events.some((known) => known.id === event.id)) return events;
  return [event, ...events].sort((a, b) => b.id - a.id).slice(0, max);
}
