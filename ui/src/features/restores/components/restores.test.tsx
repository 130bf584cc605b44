import { screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';

import type { RestoreSession } from '@/features/restores/api/types';
import type { Page } from '@/lib/api-types';
import { adminIdentity, adminToken, viewerIdentity, viewerToken } from '@/testing/mocks/fixtures';
import { problemHeaders } from '@/testing/mocks/handlers';
import { server } from '@/testing/mocks/server';
import { renderApp } from '@/testing/test-utils';

const admin = { token: adminToken, identity: adminIdentity };

function session(overrides: Partial<RestoreSession> = {}): RestoreSession {
  return {
    id: 'ce08121d-7e56-4968-8f6f-6706b6f79c23',
    node: 'node-a',
    name: 'vm',
    labels: {},
    image: { path: '/var/lib/faultline/images/vm.img', size: 268435456 },
    snapshotId: null,
    socket: '/var/lib/faultline/agent/restore/ce08121d.sock',
    state: 'WAITING',
    createdAt: '2026-11-24T20:00:00Z',
    closedAt: null,
    options: { faultAroundPages: 16, populateDelayMs: 1000, workingSet: 'auto', mode: 'copy' },
    regions: [],
    source: null,
    pages: null,
    progress: null,
    workingSet: null,
    clones: null,
    error: null,
    ...overrides,
  };
}

function page(items: RestoreSession[], number = 0, totalItems = items.length, size = 25): Page<RestoreSession> {
  return { items, page: number, size, totalItems, totalPages: Math.ceil(totalItems / size) };
}

describe('restores', () => {
  it('asks the service for one page, filtered by state and sorted, and pages through the count it gives', async () => {
    const asked: URLSearchParams[] = [];
    server.use(
      http.get('/api/v1/restores', ({ request }) => {
        const query = new URL(request.url).searchParams;
        asked.push(query);
        const number = Number(query.get('page'));
        return HttpResponse.json(page([session({ id: `id-${number}`, name: `vm-${number}` })], number, 60));
      }),
    );
    const { user } = renderApp({ path: '/restores', session: admin });

    expect(await screen.findByText('vm-0')).toBeInTheDocument();
    expect(asked[0]?.get('sort')).toBe('createdAt,desc');
    expect(asked[0]?.get('size')).toBe('25');
    expect(asked[0]?.has('state')).toBe(false);
    expect(screen.getByText(/Page 1 of 3/)).toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Next page' }));
    expect(await screen.findByText('vm-1')).toBeInTheDocument();
    expect(asked.at(-1)?.get('page')).toBe('1');

    await user.selectOptions(screen.getByLabelText('State'), 'ACTIVE');
    await waitFor(() => expect(asked.at(-1)?.get('state')).toBe('ACTIVE'));
    expect(asked.at(-1)?.get('page')).toBe('0');

    await user.selectOptions(screen.getByLabelText('Sort by'), 'name,asc');
    await waitFor(() => expect(asked.at(-1)?.get('sort')).toBe('name,asc'));
  });

  it('opens a session with the documented defaults and hands over its socket with a copy button', async () => {
    let body: unknown = null;
    server.use(
      http.post('/api/v1/restores', async ({ request }) => {
        body = await request.json();
        return HttpResponse.json(session({ name: 'vm', labels: { app: 'vm' } }), { status: 201 });
      }),
    );
    const { user } = renderApp({ path: '/restores', session: admin });

    const form = await screen.findByRole('form', { name: 'New restore session' });
    expect(within(form).getByLabelText('Fault-around pages')).toHaveValue('16');
    expect(within(form).getByLabelText('Background populate delay (ms)')).toHaveValue('1000');
    expect(within(form).getByLabelText('Working set')).toHaveValue('auto');
    expect(within(form).getByLabelText('Mode')).toHaveValue('copy');
    await user.type(within(form).getByLabelText('Image path'), '/var/lib/faultline/images/vm.img');
    await user.type(within(form).getByLabelText('Name'), 'vm');
    await user.type(within(form).getByLabelText('Labels'), 'app=vm');
    await user.click(within(form).getByRole('button', { name: 'Open restore session' }));

    expect(await screen.findByText(/Give this socket to the workload/)).toBeInTheDocument();
    expect(body).toEqual({
      image: '/var/lib/faultline/images/vm.img',
      name: 'vm',
      labels: { app: 'vm' },
      faultAroundPages: 16,
      populateDelayMs: 1000,
      workingSet: 'auto',
      mode: 'copy',
    });
    expect(screen.getByTestId('restore-socket')).toHaveTextContent('/var/lib/faultline/agent/restore/ce08121d.sock');
    await user.click(screen.getByRole('button', { name: 'Copy socket path' }));
    // user-event stands in for the system clipboard.
    expect(await navigator.clipboard.readText()).toBe('/var/lib/faultline/agent/restore/ce08121d.sock');
    expect(await screen.findByText('Copied')).toBeInTheDocument();
  });

  it('opens a clone session when asked and shows what its clones hold', async () => {
    let body: Record<string, unknown> | null = null;
    const clones = {
      sharedBytes: 268435456,
      sharedResidentBytes: 268435456,
      privateBytes: 8192,
      pssBytes: 134221824,
      clones: [
        { regionId: '0b0f6c1e-6a4e-4a53-9f59-2f1c3c9e1a77', pid: 42, sharedBytes: 268435456, privateBytes: 4096, pssBytes: 67110912 },
        { regionId: '1b0f6c1e-6a4e-4a53-9f59-2f1c3c9e1a77', pid: 43, sharedBytes: 268435456, privateBytes: 4096, pssBytes: 67110912 },
      ],
    };
    server.use(
      http.post('/api/v1/restores', async ({ request }) => {
        body = (await request.json()) as Record<string, unknown>;
        return HttpResponse.json(session({ options: { faultAroundPages: 16, populateDelayMs: 1000, workingSet: 'auto', mode: 'clone' } }), {
          status: 201,
        });
      }),
      http.get('/api/v1/restores', () =>
        HttpResponse.json(page([session({ state: 'ACTIVE', options: { faultAroundPages: 16, populateDelayMs: 1000, workingSet: 'auto', mode: 'clone' }, clones })])),
      ),
    );
    const { user } = renderApp({ path: '/restores', session: admin });

    const form = await screen.findByRole('form', { name: 'New restore session' });
    await user.type(within(form).getByLabelText('Image path'), '/var/lib/faultline/images/vm.img');
    await user.type(within(form).getByLabelText('Name'), 'vm');
    await user.selectOptions(within(form).getByLabelText('Mode'), 'clone');
    await user.click(within(form).getByRole('button', { name: 'Open restore session' }));

    await waitFor(() => expect(body).not.toBeNull());
    expect(body).toMatchObject({ mode: 'clone' });
    expect(await screen.findByTestId('restore-clones')).toHaveTextContent('2 clones: shared copy 256 MiB');
    expect(screen.getByTestId('restore-clones')).toHaveTextContent('private 8 KiB');
  });

  it('shows how long a session took to serve its first fault and to complete', async () => {
    server.use(
      http.get('/api/v1/restores', () =>
        HttpResponse.json(page([session({ state: 'COMPLETE', timing: { registeredMs: 4, firstFaultMs: 5, completeMs: 2210 } })])),
      ),
    );
    renderApp({ path: '/restores', session: admin });

    expect(await screen.findByTestId('restore-timing')).toHaveTextContent(
      'first fault served 5 ms after the request, complete after 2210 ms',
    );
  });

  it('shows why an image is refused next to the image path', async () => {
    server.use(
      http.post('/api/v1/restores', () =>
        HttpResponse.json(
          { type: 'https://faultline.dev/problems/image-not-allowed', title: 'Image outside the allowed directories', status: 422, detail: 'image /etc/hostname is outside the allowed directories [/var/lib/faultline/images]' },
          { status: 422, headers: problemHeaders },
        ),
      ),
    );
    const { user } = renderApp({ path: '/restores', session: admin });
    const form = await screen.findByRole('form', { name: 'New restore session' });
    await user.type(within(form).getByLabelText('Image path'), '/etc/hostname');
    await user.type(within(form).getByLabelText('Name'), 'x');
    await user.click(within(form).getByRole('button', { name: 'Open restore session' }));

    await waitFor(() => expect(within(form).getByLabelText('Image path')).toHaveAttribute('aria-invalid', 'true'));
    expect(within(form).getByLabelText('Image path')).toHaveAccessibleDescription(expect.stringContaining('outside the allowed directories'));
  });

  it('explains a refused close: detach the region first, with a link to it', async () => {
    server.use(
      http.get('/api/v1/restores', () =>
        HttpResponse.json(page([session({ state: 'ACTIVE', regions: ['0b0f6c1e-8a4d-4c52-9f3e-5d7a1b2c3d4e'], pages: { total: 100, present: 40 }, progress: 0.4 })])),
      ),
      http.delete('/api/v1/restores/:id', () =>
        HttpResponse.json(
          { type: 'https://faultline.dev/problems/conflict', title: 'Conflict', status: 409, detail: 'the agent could not close the restore session: region 0b0f… is attached and not fully populated' },
          { status: 409, headers: problemHeaders },
        ),
      ),
    );
    const { user } = renderApp({ path: '/restores', session: admin });
    expect(await screen.findByRole('progressbar', { name: 'Progress of vm' })).toHaveAttribute('aria-valuenow', '40');
    await user.click(screen.getByRole('button', { name: 'Close restore session vm' }));
    await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Close session' }));

    const alert = await within(screen.getByRole('dialog')).findByRole('alert');
    expect(alert).toHaveTextContent('Detach the region first');
    expect(within(alert).getByRole('link', { name: /Open region 0b0f6c1e/ })).toHaveAttribute('href', '/regions/0b0f6c1e-8a4d-4c52-9f3e-5d7a1b2c3d4e');
  });

  it('lists a snapshot\'s session with a link to its snapshot and lets it be closed', async () => {
    const snapshotId = '68eeb537-b2d9-4191-8a4a-d2906abecc6e';
    let deleted: string | undefined;
    server.use(
      http.get('/api/v1/restores', () =>
        HttpResponse.json(
          page([
            session({
              name: 'db-yesterday',
              snapshotId,
              image: { path: '/var/lib/faultline/agent/snaprestore/ce08121d.mem', size: 16777216 },
            }),
          ]),
        ),
      ),
      http.delete('/api/v1/restores/:id', ({ params }) => {
        deleted = params.id as string;
        return new HttpResponse(null, { status: 204 });
      }),
    );
    const { user } = renderApp({ path: '/restores', session: admin });
    const link = await screen.findByRole('link', { name: 'snapshot 68eeb537' });
    expect(link).toHaveAttribute('href', `/snapshots/${snapshotId}`);
    expect(screen.getByText(/flat copy of its chain/)).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Close restore session db-yesterday' }));
    await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Close session' }));
    await waitFor(() => expect(deleted).toBe('ce08121d-7e56-4968-8f6f-6706b6f79c23'));
  });

  it('offers a viewer the sessions but not the form', async () => {
    server.use(http.get('/api/v1/restores', () => HttpResponse.json(page([session()]))));
    renderApp({ path: '/restores', session: { token: viewerToken, identity: viewerIdentity } });
    expect(await screen.findByText('vm')).toBeInTheDocument();
    expect(screen.queryByRole('form', { name: 'New restore session' })).toBeNull();
    expect(screen.queryByRole('button', { name: /Close restore session/ })).toBeNull();
  });
});
