import { screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';

import { event, controllableStream } from '@/testing/event-stream';
import { adminIdentity, adminToken, page, region } from '@/testing/mocks/fixtures';
import { server } from '@/testing/mocks/server';
import { renderApp } from '@/testing/test-utils';

const signedIn = { token: adminToken, identity: adminIdentity };

describe('live updates from the event stream', () => {
  it('sends the bearer token and shows a region that attaches without a reload', async () => {
    const stream = controllableStream();
    let attached = false;
    let authorization: string | null = null;
    server.use(
      // Looks at the request and passes it on to the stream.
      http.get('/api/v1/events/stream', ({ request }) => {
        authorization = request.headers.get('Authorization');
        return undefined;
      }),
      stream.handler,
      http.get('/api/v1/regions', () => HttpResponse.json(page(attached ? [region({ name: 'vm-42' })] : []))),
    );
    const connected = stream.nextConnection();
    renderApp({ path: '/regions', session: signedIn });
    expect(await screen.findByText(/No regions yet/)).toBeInTheDocument();
    await connected;
    expect(authorization).toBe(`Bearer ${adminToken}`);

    attached = true;
    stream.send(event({ kind: 'region.attached', subjectType: 'region', subjectId: region().id, message: "region 'vm-42' attached" }));

    // Well before the list's own 5 s poll: the event made it refetch.
    expect(await screen.findByRole('link', { name: 'vm-42' }, { timeout: 2000 })).toBeInTheDocument();
  });

  it('adds streamed events to the recent events on the overview', async () => {
    const stream = controllableStream();
    server.use(stream.handler);
    const connected = stream.nextConnection();
    renderApp({ path: '/', session: signedIn });
    const events = await screen.findByRole('region', { name: 'Recent events' });
    expect(await within(events).findByText('Nothing has happened yet.')).toBeInTheDocument();
    await connected;

    stream.send(event({ kind: 'restore.complete', subjectType: 'restore', message: "restore session 'vm' is COMPLETE" }));

    expect(await within(events).findByText("restore session 'vm' is COMPLETE")).toBeInTheDocument();
    expect(within(events).getByText('restore.complete')).toBeInTheDocument();
  });

  it('shows the stream lost, then back, and resumes after the last event it saw', async () => {
    const stream = controllableStream();
    server.use(stream.handler);
    const first = stream.nextConnection();
    renderApp({ path: '/', session: signedIn, streamOptions: { backoff: () => 400 } });
    await first;
    await waitFor(() => expect(document.querySelector('[data-stream-state="open"]')).not.toBeNull());
    expect(screen.getByText('Live')).toBeInTheDocument();

    stream.send(event({ id: 7, kind: 'agent.ready', subjectType: 'agent', message: 'agent is READY' }));
    await screen.findByText('agent is READY');
    const second = stream.nextConnection();
    stream.drop();

    expect(await screen.findByText('Stream lost')).toBeInTheDocument();
    expect(document.querySelector('[data-stream-state="reconnecting"]')).toHaveTextContent(/retrying/);
    await second;
    expect(await screen.findByText('Live again')).toBeInTheDocument();
    expect(document.querySelector('[data-stream-state="open"]')).toHaveTextContent(/lost at .* reconnected at/);
    expect(stream.connections.map((c) => c.lastEventId)).toEqual([null, '7']);
  });

  it('a 401 on the stream ends the session', async () => {
    server.use(
      http.get('/api/v1/events/stream', () =>
        HttpResponse.json({ title: 'Unauthorized', status: 401 }, { status: 401, headers: { 'Content-Type': 'application/problem+json' } }),
      ),
    );
    renderApp({ path: '/', session: signedIn });
    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeInTheDocument();
    expect(screen.getByText(/session has ended/)).toBeInTheDocument();
  });
});
