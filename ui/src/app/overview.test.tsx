import { act, screen, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { adminIdentity, adminToken } from '@/testing/mocks/fixtures';
import { server } from '@/testing/mocks/server';
import { renderApp } from '@/testing/test-utils';

const admin = { token: adminToken, identity: adminIdentity };

describe('overview', () => {
  afterEach(() => vi.useRealTimers());

  it('leaves nodes out while the service has no nodes API, and shows them when it answers', async () => {
    renderApp({ session: admin });
    await screen.findByRole('region', { name: 'Agent' });
    await screen.findByRole('region', { name: 'Recent events' });
    expect(screen.queryByRole('region', { name: 'Nodes' })).toBeNull();
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('lists the nodes and their agents when /api/v1/nodes answers', async () => {
    server.use(
      http.get('/api/v1/nodes', () =>
        HttpResponse.json([{ name: 'node-a', local: true, state: 'UP', lastHeartbeat: '2026-11-24T20:00:00Z', agent: { state: 'READY', version: '0.1.0', pid: 4242 }, pageChannel: { address: '127.0.0.1:7701' }, capabilities: ['wp_async', 'move'] }]),
      ),
    );
    renderApp({ session: admin });
    const nodes = await screen.findByRole('region', { name: 'Nodes' });
    expect(within(nodes).getByText('127.0.0.1:7701')).toBeInTheDocument();
    expect(within(nodes).getByText('wp_async, move')).toBeInTheDocument();
  });

  it('totals regions and bytes, and computes faults/s from two successive polls', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    let faults = 1000;
    server.use(
      // one attached region of 64 MiB and one detached: counted by the service
      http.get('/api/v1/regions/totals', () => {
        const answer = { total: 2, attached: 1, detaching: 0, detached: 1, bytesAttached: 64 << 20, faults };
        faults += 1500;
        return HttpResponse.json(answer);
      }),
    );
    renderApp({ session: admin });
    const totals = await screen.findByLabelText('Totals');
    expect(await within(totals).findByText('of 2')).toBeInTheDocument();
    expect(within(totals).getByText('64 MiB')).toBeInTheDocument();
    expect(within(totals).getByText('measuring…')).toBeInTheDocument();

    await act(() => vi.advanceTimersByTimeAsync(3_000));

    // 1,500 more faults in 3 s.
    expect(await within(totals).findByText('500')).toBeInTheDocument();
  });
});
