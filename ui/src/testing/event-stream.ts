import { http, HttpResponse } from 'msw';

import type { FaultlineEvent } from '@/features/events/api/types';

let nextId = 100;

export function event(overrides: Partial<FaultlineEvent>): FaultlineEvent {
  nextId += 1;
  return {
    id: nextId,
    occurredAt: '2026-11-24T20:00:00Z',
    node: 'node-a',
    kind: 'region.attached',
    subjectType: 'region',
    subjectId: 'x',
    message: 'something happened',
    data: null,
    ...overrides,
  };
}

/**
 * An event stream a test drives: each connection is recorded (with its Last-Event-ID), `send`
 * pushes an event to the open connection, `drop` ends it as a network loss would.
 */
export function controllableStream() {
  const encoder = new TextEncoder();
  const connections: { lastEventId: string | null; controller: ReadableStreamDefaultController<Uint8Array> }[] = [];
  let onConnect: (() => void) | null = null;
  const handler = http.get('/api/v1/events/stream', ({ request }) => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        connections.push({ lastEventId: request.headers.get('Last-Event-ID'), controller });
        controller.enqueue(encoder.encode(': hello\n\n'));
        request.signal.addEventListener('abort', () => {
          try {
            controller.close();
          } catch {
            // closed already
          }
        });
        onConnect?.();
      },
    });
    return new HttpResponse(body, { headers: { 'Content-Type': 'text/event-stream' } });
  });
  const current = () => {
    const last = connections[connections.length - 1];
    if (!last) throw new Error('no stream connection yet');
    return last;
  };
  return {
    handler,
    connections,
    send(e: FaultlineEvent) {
      current().controller.enqueue(encoder.encode(`id: ${e.id}\nevent: ${e.kind}\ndata: ${JSON.stringify(e)}\n\n`));
    },
    drop() {
      current().controller.error(new TypeError('network error'));
    },
    /** Resolves when the next connection opens. */
    nextConnection() {
      return new Promise<void>((resolve) => {
        onConnect = resolve;
      });
    },
  };
}
