import { act, screen, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { adminIdentity, adminToken, hostInfo, probe } from '@/testing/mocks/fixtures';
import { server } from '@/testing/mocks/server';
import { renderApp } from '@/testing/test-utils';

const signedIn = { token: adminToken, identity: adminIdentity };

function serveHost(...answers: ReturnType<typeof hostInfo>[]) {
  let call = 0;
  server.use(
    http.get('/api/v1/host', () => {
      const answer = answers[Math.min(call, answers.length - 1)];
      call += 1;
      return HttpResponse.json(answer);
    }),
  );
}

function card(name: string) {
  return screen.getByRole('region', { name });
}

function row(table: HTMLElement, name: string) {
  return within(table).getByRole('row', { name: new RegExp(`^${name}\\b`) });
}

describe('host overview', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('shows the hostname, kernel release and the agent with its state, mode and details', async () => {
    serveHost(hostInfo({ agent: { pid: 4321, version: '0.1.0', restarts: 2 } }));
    renderApp({ session: signedIn });

    const agent = await screen.findByRole('region', { name: 'Agent' });
    expect(within(agent).getByText('READY')).toHaveAttribute('data-tone', 'ok');
    expect(within(agent).getByText('EMBEDDED')).toBeInTheDocument();
    expect(within(agent).getByText('4321')).toBeInTheDocument();
    expect(within(agent).getByText('0.1.0')).toBeInTheDocument();
    expect(within(agent).getByText('2')).toHaveAttribute('data-tone', 'warn');
    expect(within(agent).getByText('/var/lib/faultline/agent.sock')).toBeInTheDocument();
    expect(within(agent).getByRole('time')).toHaveAttribute('datetime', '2026-11-24T19:54:04Z');

    const host = card('Host');
    expect(within(host).getByText('vm')).toBeInTheDocument();
    expect(within(host).getByText('6.18.44-fc-v669')).toBeInTheDocument();
  });

  it('highlights notable features such as wp_async and move, and only those', async () => {
    serveHost(hostInfo());
    renderApp({ session: signedIn });

    const features = await screen.findByRole('table', { name: /userfaultfd features/ });
    for (const name of ['wp_async', 'move', 'poison', 'minor_shmem', 'wp_unpopulated']) {
      const featureRow = row(features, name);
      expect(featureRow).toHaveAttribute('data-notable', 'true');
      expect(within(featureRow).getByText('notable')).toBeInTheDocument();
    }
    expect(within(row(features, 'wp_async')).getByText(/dirty tracking/)).toBeInTheDocument();
    expect(within(row(features, 'move')).getByText(/UFFDIO_MOVE/)).toBeInTheDocument();

    const plain = row(features, 'event_fork');
    expect(plain).not.toHaveAttribute('data-notable');
    expect(within(plain).queryByText('notable')).toBeNull();
    expect(within(features).getAllByRole('row')).toHaveLength(1 + 17);
  });

  it('compares the JVM probe with the agent probe and flags where they differ', async () => {
    serveHost(
      hostInfo({
        userfaultfd: probe({ features: ['event_fork', 'wp_async'], ioctls: ['register', 'copy'] }),
        agent: { userfaultfd: probe({ features: ['event_fork', 'move'], ioctls: ['register', 'copy'] }) },
      }),
    );
    renderApp({ session: signedIn });

    const features = await screen.findByRole('table', { name: /userfaultfd features/ });
    const wpAsync = row(features, 'wp_async');
    expect(within(wpAsync).getAllByRole('cell').map((cell) => cell.textContent)).toEqual([
      '✓ yes',
      '✗ no',
      expect.stringMatching(/^differs/),
    ]);
    const move = row(features, 'move');
    expect(within(move).getAllByRole('cell').map((cell) => cell.textContent).slice(0, 2)).toEqual([
      '✗ no',
      '✓ yes',
    ]);
    expect(within(row(features, 'event_fork')).queryByText('differs')).toBeNull();
    expect(within(card('Features')).getByText('2 differences')).toBeInTheDocument();
    expect(within(card('ioctls')).getByText('JVM and agent agree')).toBeInTheDocument();
  });

  it('lists the ioctls and highlights the notable ones', async () => {
    serveHost(hostInfo());
    renderApp({ session: signedIn });

    const ioctls = await screen.findByRole('table', { name: /userfaultfd ioctls/ });
    expect(within(ioctls).getAllByRole('row')).toHaveLength(1 + 10);
    expect(row(ioctls, 'writeprotect')).toHaveAttribute('data-notable', 'true');
    expect(row(ioctls, 'zeropage')).not.toHaveAttribute('data-notable');
  });

  it('shows a DOWN agent with its last error and no probe of its own', async () => {
    serveHost(
      hostInfo({
        agent: {
          state: 'DOWN',
          pid: null,
          lastError: 'agent exited with status 134 (SIGABRT)',
          userfaultfd: null,
        },
      }),
    );
    renderApp({ session: signedIn });

    const agent = await screen.findByRole('region', { name: 'Agent' });
    expect(within(agent).getByText('DOWN')).toHaveAttribute('data-tone', 'danger');
    expect(within(agent).getByText('agent exited with status 134 (SIGABRT)')).toBeInTheDocument();
    expect(within(card('Features')).getByText('agent probe missing')).toBeInTheDocument();
    const features = screen.getByRole('table', { name: /userfaultfd features/ });
    expect(within(row(features, 'wp_async')).getByText('unknown')).toBeInTheDocument();
    expect(screen.getByText(/has not reported its own probe/)).toBeInTheDocument();
  });

  it('polls the host, so an agent restart shows up without a reload', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    serveHost(
      hostInfo(),
      hostInfo({ agent: { state: 'STARTING', restarts: 1, since: '2026-11-24T20:10:00Z' } }),
    );
    renderApp({ session: signedIn });

    const agent = await screen.findByRole('region', { name: 'Agent' });
    expect(within(agent).getByText('READY')).toBeInTheDocument();

    await act(() => vi.advanceTimersByTimeAsync(5_000));

    expect(await within(agent).findByText('STARTING')).toHaveAttribute('data-tone', 'warn');
    expect(within(agent).getByText('1')).toBeInTheDocument();
  });

  it('keeps the last answer on screen and says so when the service stops answering', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    let call = 0;
    server.use(
      http.get('/api/v1/host', () => {
        call += 1;
        return call === 1 ? HttpResponse.json(hostInfo()) : HttpResponse.error();
      }),
    );
    renderApp({ session: signedIn });
    await screen.findByRole('region', { name: 'Agent' });

    // One poll plus the query's two retries, which back off 1 s and 2 s.
    await act(() => vi.advanceTimersByTimeAsync(5_000 + 1_000 + 2_000 + 100));

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Lost contact with the service');
    expect(alert).toHaveTextContent('The request got no answer');
    expect(within(card('Agent')).getByText('READY')).toBeInTheDocument();
  });
});
