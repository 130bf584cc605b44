import { http, HttpResponse } from 'msw';

import {
  adminIdentity,
  adminToken,
  hostInfo,
  operatorIdentity,
  operatorToken,
  page,
  problem,
  viewerIdentity,
  viewerToken,
} from './fixtures';

const problemHeaders = { 'Content-Type': 'application/problem+json' };

function unauthorized(instance: string) {
  return HttpResponse.json(
    { ...problem(401, 'Unauthorized', 'The bearer token is unknown, expired or revoked.'), instance },
    { status: 401, headers: problemHeaders },
  );
}

function notFound(instance: string, detail = `No static resource ${instance.slice(1)}.`) {
  return HttpResponse.json(
    { type: 'https://faultline.dev/problems/not-found', title: 'Not found', status: 404, detail, instance },
    { status: 404, headers: problemHeaders },
  );
}

function identityFor(request: Request) {
  const authorization = request.headers.get('Authorization');
  if (authorization === `Bearer ${adminToken}`) return adminIdentity;
  if (authorization === `Bearer ${operatorToken}`) return operatorIdentity;
  if (authorization === `Bearer ${viewerToken}`) return viewerIdentity;
  return null;
}

/**
 * An event stream as the service sends it: a comment, then the given events, then it stays
 * open until the client goes away (or ends at once with `end`).
 */
function eventStream(request: Request, events: object[] = [], { end = false } = {}) {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(': faultline events\n\n'));
      for (const event of events as { id: number; kind: string }[]) {
        controller.enqueue(encoder.encode(`id: ${event.id}\nevent: ${event.kind}\ndata: ${JSON.stringify(event)}\n\n`));
      }
      if (end) controller.close();
      request.signal.addEventListener('abort', () => {
        try {
          controller.close();
        } catch {
          // already closed
        }
      });
    },
  });
  return new HttpResponse(body, { headers: { 'Content-Type': 'text/event-stream' } });
}

const authed =
  (path: string, answer: (request: Request) => Response | Promise<Response>) =>
  ({ request }: { request: Request }) =>
    identityFor(request) ? answer(request) : unauthorized(path);

/** The service as the contract describes it, for the known tokens. Tests override per case. */
export const handlers = [
  http.get('/api/v1/whoami', ({ request }) => {
    const identity = identityFor(request);
    return identity ? HttpResponse.json(identity) : unauthorized('/api/v1/whoami');
  }),
  http.get('/api/v1/host', authed('/api/v1/host', () => HttpResponse.json(hostInfo()))),
  http.get('/api/v1/events/stream', authed('/api/v1/events/stream', (request) => eventStream(request))),
  http.get('/api/v1/events', authed('/api/v1/events', () => HttpResponse.json([]))),
  http.get('/api/v1/regions/totals', authed('/api/v1/regions/totals', () =>
    HttpResponse.json({ total: 0, attached: 0, detaching: 0, detached: 0, bytesAttached: 0, faults: 0 }),
  )),
  http.get('/api/v1/regions', authed('/api/v1/regions', () => HttpResponse.json(page([])))),
  http.get('/api/v1/snapshots', authed('/api/v1/snapshots', () => HttpResponse.json(page([])))),
  http.get('/api/v1/restores', authed('/api/v1/restores', () =>
    HttpResponse.json({ items: [], page: 0, size: 25, totalItems: 0, totalPages: 0 }))),
  http.get('/api/v1/snapshot-policies', authed('/api/v1/snapshot-policies', () => HttpResponse.json([]))),
  // Not implemented by the service yet: it answers 404 like any unknown path.
  http.get('/api/v1/nodes', () => notFound('/api/v1/nodes')),
  http.get('/api/v1/migrations', () => notFound('/api/v1/migrations')),
];

export { eventStream, notFound, problemHeaders, unauthorized };
