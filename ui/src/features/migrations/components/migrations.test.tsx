import { screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';

import type { Migration } from '@/features/migrations/api/types';
import { adminIdentity, adminToken, page, region, viewerIdentity, viewerToken } from '@/testing/mocks/fixtures';
import { problemHeaders } from '@/testing/mocks/handlers';
import { server } from '@/testing/mocks/server';
import { renderApp } from '@/testing/test-utils';

const admin = { token: adminToken, identity: adminIdentity };
const GiB = 1024 ** 3;

function job(overrides: Partial<Migration> = {}): Migration {
  return {
    id: '7c1d0000-0000-4000-8000-000000000007',
    regionId: region().id,
    regionName: 'demo',
    sourceNode: 'node-a',
    destinationNode: 'node-b',
    destinationRegionId: null,
    destinationSocket: null,
    phase: 'PRECOPY',
    pausedIn: null,
    options: { maxDowntimeMs: 10, bandwidthLimitBytesPerSec: 0, maxPrecopyRounds: 10, postcopy: 'auto', postcopyAfterMs: 30000, compress: 'none', autoConverge: false, skipUnchanged: true, pushConnections: 1 },
    createdAt: '2026-11-24T20:00:00Z',
    startedAt: '2026-11-24T20:00:00Z',
    switchoverAt: null,
    completedAt: null,
    error: null,
    timeline: [
      { phase: 'PENDING', at: '2026-11-24T20:00:00Z' },
      { phase: 'PRECOPY', at: '2026-11-24T20:00:01Z' },
    ],
    stats: {
      regionBytes: 2 * GiB,
      totalMs: 1234,
      setupMs: 12,
      downtimeMs: null,
      transferred: { precopyBytes: 1.5 * GiB, postcopyBytes: 0, demandBytes: 0, precopyPages: 393216, postcopyPages: 0, demandPages: 0, compressedPages: 0, compressedBytes: 0, unchangedPages: 0 },
      remainingBytes: 0.5 * GiB,
      dirtyRateBytesPerSec: 64 * 1024 ** 2,
      rounds: 3,
      postcopyRequests: 0,
      demandLatency: { count: 0, p50Ns: 0, p99Ns: 0, p999Ns: null, maxNs: 0 },
      blockedNs: 0,
      throughputBytesPerSec: 900 * 1024 ** 2,
      throttle: null,
      pushConnections: null,
    },
    ...overrides,
  };
}

const nodes = [
  { name: 'node-a', local: true, state: 'UP', lastHeartbeat: '2026-11-24T20:00:00Z', agent: { state: 'READY', version: '0.1.0', pid: 1 }, pageChannel: { address: '127.0.0.1:7701' }, capabilities: ['wp_async'] },
  { name: 'node-b', local: false, state: 'UP', lastHeartbeat: '2026-11-24T20:00:00Z', agent: { state: 'READY', version: '0.1.0', pid: 2 }, pageChannel: { address: '127.0.0.1:7702' }, capabilities: ['wp_async'] },
];

/** The start form's API: the nodes, no jobs, one region; a create is accepted and its body kept. */
function serveAcceptingStartForm(): { body: () => unknown } {
  let body: unknown = null;
  server.use(
    http.get('/api/v1/nodes', () => HttpResponse.json(nodes)),
    http.get('/api/v1/migrations', () => HttpResponse.json(page([]))),
    http.get('/api/v1/regions', () => HttpResponse.json(page([region()]))),
    http.post('/api/v1/migrations', async ({ request }) => {
      body = await request.json();
      return HttpResponse.json(job({ phase: 'PENDING' }), { status: 202 });
    }),
    http.get(`/api/v1/migrations/${job().id}`, () => HttpResponse.json(job())),
  );
  return { body: () => body };
}

describe('migrations (against the contract, mocked)', () => {
  it('says the service does not migrate yet when the API answers 404', async () => {
    renderApp({ path: '/migrations', session: admin });
    expect(await screen.findByText(/does not offer live migration yet/)).toBeInTheDocument();
    expect(screen.queryByRole('form', { name: 'Start a migration' })).toBeNull();
  });

  it('starts a migration with the documented defaults to the chosen node', async () => {
    const sent = serveAcceptingStartForm();
    const { user } = renderApp({ path: '/migrations', session: admin });
    const form = await screen.findByRole('form', { name: 'Start a migration' });
    await waitFor(() => expect(within(form).getByLabelText('Region')).toHaveValue(region().id));
    expect(within(form).getByLabelText('Destination node')).toHaveValue('node-b');
    expect(within(form).queryByRole('option', { name: 'node-a' })).toBeNull();
    await user.click(within(form).getByRole('button', { name: 'Start migration' }));

    expect(await screen.findByRole('heading', { name: /demo: node-a → node-b/ })).toBeInTheDocument();
    expect(sent.body()).toEqual({
      regionId: region().id,
      destinationNode: 'node-b',
      options: { maxDowntimeMs: 10, bandwidthLimitBytesPerSec: 0, maxPrecopyRounds: 10, postcopy: 'auto', postcopyAfterMs: 30000, compress: 'none', autoConverge: false, skipUnchanged: true, pushConnections: 1 },
    });
  });

  it('asks for zstd page compression when it is picked', async () => {
    const sent = serveAcceptingStartForm();
    const { user } = renderApp({ path: '/migrations', session: admin });
    const form = await screen.findByRole('form', { name: 'Start a migration' });
    await waitFor(() => expect(within(form).getByLabelText('Region')).toHaveValue(region().id));
    const compression = within(form).getByLabelText('Page compression');
    expect(compression).toHaveValue('none');
    expect(within(compression).getAllByRole('option').map((o) => o.textContent)).toEqual(['none', 'zstd']);
    await user.selectOptions(compression, 'zstd');
    await user.click(within(form).getByRole('button', { name: 'Start migration' }));

    await screen.findByRole('heading', { name: /demo: node-a → node-b/ });
    expect(sent.body()).toMatchObject({ options: { compress: 'zstd', postcopy: 'auto' } });
  });

  it.each([
    ['options.compress', 'Page compression', 'must be none or zstd'],
    ['options.autoConverge', 'Auto-converge', 'must be true or false'],
    ['options.skipUnchanged', 'Skip unchanged pages', 'must be true or false'],
    ['options.pushConnections', 'Push connections', 'must be a whole number from 1 to 8'],
  ])('shows a %s the service refused next to its field', async (field, label, message) => {
    server.use(
      http.get('/api/v1/nodes', () => HttpResponse.json(nodes)),
      http.get('/api/v1/migrations', () => HttpResponse.json(page([]))),
      http.get('/api/v1/regions', () => HttpResponse.json(page([region()]))),
      http.post('/api/v1/migrations', () =>
        HttpResponse.json(
          {
            type: 'https://faultline.dev/problems/validation',
            title: 'Invalid request',
            status: 400,
            detail: `${field}: ${message}`,
            errors: [{ field, message }],
          },
          { status: 400, headers: problemHeaders },
        ),
      ),
    );
    const { user } = renderApp({ path: '/migrations', session: admin });
    const form = await screen.findByRole('form', { name: 'Start a migration' });
    await waitFor(() => expect(within(form).getByLabelText('Region')).toHaveValue(region().id));
    await user.click(within(form).getByRole('button', { name: 'Start migration' }));

    const input = within(form).getByLabelText(label);
    await waitFor(() => expect(input).toHaveAttribute('aria-invalid', 'true'));
    expect(input).toHaveAccessibleDescription(new RegExp(message));
  });

  it('shows what compression saved, and the option, once pages travelled compressed', async () => {
    const compressed = job({
      options: { ...job().options, compress: 'zstd' },
      stats: { ...job().stats, transferred: { ...job().stats.transferred, compressedPages: 262144, compressedBytes: 64 * 1024 ** 2 } },
    });
    server.use(http.get(`/api/v1/migrations/${job().id}`, () => HttpResponse.json(compressed)));
    renderApp({ path: `/migrations/${job().id}`, session: admin });

    expect(await screen.findByTestId('compression')).toHaveTextContent('Compressed 262,144 pages (1 GiB) into 64 MiB: saved 960 MiB');
    expect(screen.getByText(/compression zstd/)).toBeInTheDocument();
  });

  it('asks for auto-converge when its box is ticked', async () => {
    const sent = serveAcceptingStartForm();
    const { user } = renderApp({ path: '/migrations', session: admin });
    const form = await screen.findByRole('form', { name: 'Start a migration' });
    await waitFor(() => expect(within(form).getByLabelText('Region')).toHaveValue(region().id));
    const autoConverge = within(form).getByLabelText('Auto-converge');
    expect(autoConverge).not.toBeChecked();
    expect(autoConverge).toHaveAccessibleDescription(/stop the workload for a growing share of every 100 ms/);
    await user.click(autoConverge);
    await user.click(within(form).getByRole('button', { name: 'Start migration' }));

    await screen.findByRole('heading', { name: /demo: node-a → node-b/ });
    expect(sent.body()).toMatchObject({ options: { autoConverge: true, postcopy: 'auto', compress: 'none' } });
  });

  it('skips unchanged pages unless its box is unticked, and says what the fingerprint does not guarantee', async () => {
    const sent = serveAcceptingStartForm();
    const { user } = renderApp({ path: '/migrations', session: admin });
    const form = await screen.findByRole('form', { name: 'Start a migration' });
    await waitFor(() => expect(within(form).getByLabelText('Region')).toHaveValue(region().id));
    const skipUnchanged = within(form).getByLabelText('Skip unchanged pages');
    expect(skipUnchanged).toBeChecked();
    expect(skipUnchanged).toHaveAccessibleDescription(/not a collision-resistant one/);
    await user.click(skipUnchanged);
    expect(skipUnchanged).not.toBeChecked();
    await user.click(within(form).getByRole('button', { name: 'Start migration' }));

    await screen.findByRole('heading', { name: /demo: node-a → node-b/ });
    expect(sent.body()).toMatchObject({ options: { skipUnchanged: false, autoConverge: false, compress: 'none' } });
  });

  it('asks for the push connections typed in', async () => {
    const sent = serveAcceptingStartForm();
    const { user } = renderApp({ path: '/migrations', session: admin });
    const form = await screen.findByRole('form', { name: 'Start a migration' });
    await waitFor(() => expect(within(form).getByLabelText('Region')).toHaveValue(region().id));
    const connections = within(form).getByLabelText('Push connections');
    expect(connections).toHaveValue('1');
    expect(connections).toHaveAccessibleDescription(/demand requests keep their own/);
    await user.clear(connections);
    await user.type(connections, '4');
    await user.click(within(form).getByRole('button', { name: 'Start migration' }));

    await screen.findByRole('heading', { name: /demo: node-a → node-b/ });
    expect(sent.body()).toMatchObject({ options: { pushConnections: 4, skipUnchanged: true, compress: 'none' } });
  });

  it.each(['0', '9', 'x', '1.5', ''])('refuses push connections of %o before asking the service', async (typed) => {
    const sent = serveAcceptingStartForm();
    const { user } = renderApp({ path: '/migrations', session: admin });
    const form = await screen.findByRole('form', { name: 'Start a migration' });
    await waitFor(() => expect(within(form).getByLabelText('Region')).toHaveValue(region().id));
    const connections = within(form).getByLabelText('Push connections');
    await user.clear(connections);
    if (typed) await user.type(connections, typed);
    await user.click(within(form).getByRole('button', { name: 'Start migration' }));

    await waitFor(() => expect(connections).toHaveAttribute('aria-invalid', 'true'));
    expect(connections).toHaveAccessibleDescription(/Enter a whole number from 1 to 8/);
    expect(sent.body()).toBeNull();
  });

  it('shows the push connections asked for, and says when the source pushes on fewer', async () => {
    const fewer = job({ options: { ...job().options, pushConnections: 4 }, stats: { ...job().stats, pushConnections: 1 } });
    server.use(http.get(`/api/v1/migrations/${job().id}`, () => HttpResponse.json(fewer)));
    renderApp({ path: `/migrations/${job().id}`, session: admin });

    expect(await screen.findByTestId('push-connections')).toHaveTextContent(
      'Pages pushed on 1 of the 4 connections asked for: the destination agent takes no more',
    );
    expect(screen.getByText(/push connections 4/)).toBeInTheDocument();
  });

  it.each([4, null])('says nothing more about push connections when the source pushes on those asked for or has not said (%o)', async (pushed) => {
    const asked = job({ options: { ...job().options, pushConnections: 4 }, stats: { ...job().stats, pushConnections: pushed } });
    server.use(http.get(`/api/v1/migrations/${job().id}`, () => HttpResponse.json(asked)));
    renderApp({ path: `/migrations/${job().id}`, session: admin });

    await screen.findByRole('list', { name: 'Migration phases' });
    expect(screen.queryByTestId('push-connections')).toBeNull();
    expect(screen.getByText(/push connections 4/)).toBeInTheDocument();
  });

  it('shows the pages not sent again because they were unchanged, next to the compressed ones', async () => {
    const skipped = job({
      options: { ...job().options, compress: 'zstd' },
      stats: { ...job().stats, transferred: { ...job().stats.transferred, compressedPages: 262144, compressedBytes: 64 * 1024 ** 2, unchangedPages: 1024 } },
    });
    server.use(http.get(`/api/v1/migrations/${job().id}`, () => HttpResponse.json(skipped)));
    renderApp({ path: `/migrations/${job().id}`, session: admin });

    expect(await screen.findByTestId('unchanged')).toHaveTextContent('Unchanged 1,024 pages (4 MiB): written again with the bytes last sent, so not sent again');
    expect(screen.getByTestId('compression')).toBeInTheDocument();
    expect(screen.getByText(/unchanged pages skipped/)).toBeInTheDocument();
  });

  it('says nothing about unchanged pages when there were none, and shows the option off', async () => {
    const everyPage = job({ options: { ...job().options, skipUnchanged: false } });
    server.use(http.get(`/api/v1/migrations/${job().id}`, () => HttpResponse.json(everyPage)));
    renderApp({ path: `/migrations/${job().id}`, session: admin });

    await screen.findByRole('list', { name: 'Migration phases' });
    expect(screen.queryByTestId('unchanged')).toBeNull();
    expect(screen.getByText(/unchanged pages sent again/)).toBeInTheDocument();
  });

  it.each([
    [{ state: 'throttling', pct: 40, throttledMs: 1500 }, 'Auto-converge: the workload is stopped 40% of every 100 ms · workload held 1.5 s in all'],
    [{ state: 'stopped', pct: 70, throttledMs: 2500 }, 'Auto-converge ended, last at 70% of every 100 ms · workload held 2.5 s in all'],
    [{ state: 'unavailable', pct: 0, throttledMs: 0 }, 'Auto-converge unavailable: the source agent may not stop the workload'],
    [{ state: 'ready', pct: 0, throttledMs: 0 }, 'Auto-converge: ready, not throttling'],
  ] as const)('shows how auto-converge throttles the workload (%o)', async (throttle, text) => {
    const throttled = job({ options: { ...job().options, autoConverge: true }, stats: { ...job().stats, throttle } });
    server.use(http.get(`/api/v1/migrations/${job().id}`, () => HttpResponse.json(throttled)));
    renderApp({ path: `/migrations/${job().id}`, session: admin });

    expect(await screen.findByTestId('throttle')).toHaveTextContent(text);
    expect(screen.getByText(/auto-converge on/)).toBeInTheDocument();
  });

  it('says nothing about a throttle without auto-converge', async () => {
    server.use(http.get(`/api/v1/migrations/${job().id}`, () => HttpResponse.json(job())));
    renderApp({ path: `/migrations/${job().id}`, session: admin });

    await screen.findByRole('list', { name: 'Migration phases' });
    expect(screen.queryByTestId('throttle')).toBeNull();
    expect(screen.getByText(/auto-converge off/)).toBeInTheDocument();
  });

  it('says nothing about compression when no page travelled compressed', async () => {
    server.use(http.get(`/api/v1/migrations/${job().id}`, () => HttpResponse.json(job())));
    renderApp({ path: `/migrations/${job().id}`, session: admin });

    await screen.findByRole('list', { name: 'Migration phases' });
    expect(screen.queryByTestId('compression')).toBeNull();
    expect(screen.getByText(/compression none/)).toBeInTheDocument();
  });

  it("offers every node but the region's own, also when one service instance manages both", async () => {
    server.use(
      http.get('/api/v1/nodes', () => HttpResponse.json(nodes.map((n) => ({ ...n, local: true })))),
      http.get('/api/v1/migrations', () => HttpResponse.json(page([]))),
      http.get('/api/v1/regions', () => HttpResponse.json(page([region()]))),
    );
    renderApp({ path: '/migrations', session: admin });
    const form = await screen.findByRole('form', { name: 'Start a migration' });
    await waitFor(() => expect(within(form).getByLabelText('Region')).toHaveValue(region().id));
    expect(region().node).toBe('node-a');
    expect(within(form).getByLabelText('Destination node')).toHaveValue('node-b');
    expect(within(form).queryByRole('option', { name: 'node-a' })).toBeNull();
  });

  it('shows where the destination workload attaches until it has', async () => {
    const socket = '/var/lib/faultline/nodes/node-b/agent/migration/7c1d.sock';
    server.use(http.get(`/api/v1/migrations/${job().id}`, () => HttpResponse.json(job({ phase: 'POSTCOPY', destinationSocket: socket }))));
    renderApp({ path: `/migrations/${job().id}`, session: admin });
    expect(await screen.findByTestId('destination-socket')).toHaveTextContent(socket);
  });

  it('offers no pause while the job is PENDING (the service pauses only a running transfer)', async () => {
    server.use(http.get(`/api/v1/migrations/${job().id}`, () => HttpResponse.json(job({ phase: 'PENDING' }))));
    renderApp({ path: `/migrations/${job().id}`, session: admin });
    expect(await screen.findByRole('button', { name: 'Cancel migration' })).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Pause' })).toBeNull();
  });

  it('shows the live view: phase timeline, progress with remaining bytes, dirty rate, downtime, demand faults', async () => {
    server.use(http.get(`/api/v1/migrations/${job().id}`, () => HttpResponse.json(job())));
    renderApp({ path: `/migrations/${job().id}`, session: admin });

    const timeline = await screen.findByRole('list', { name: 'Migration phases' });
    const steps = within(timeline).getAllByRole('listitem');
    expect(steps.map((s) => s.className.replace('phase-timeline__step phase-timeline__step--', ''))).toEqual(['done', 'current', 'todo', 'todo', 'todo']);
    expect(steps[1]).toHaveAttribute('aria-current', 'step');
    expect(screen.getByRole('progressbar', { name: 'Bytes transferred' })).toHaveAttribute('aria-valuetext', '1.5 GiB of 2 GiB, 512 MiB remaining · 75 %');
    expect(screen.getByText('Dirty rate').nextSibling).toHaveTextContent('64 MiB/s');
    expect(screen.getByText('Downtime').nextSibling).toHaveTextContent('—');
    expect(screen.getByText('Demand faults')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Start postcopy now' })).toBeInTheDocument();
  });

  it('explains a cancel refused after switchover', async () => {
    const switched = job({ phase: 'POSTCOPY', switchoverAt: '2026-11-24T20:00:05Z', stats: { ...job().stats, downtimeMs: 8 } });
    server.use(
      http.get(`/api/v1/migrations/${switched.id}`, () => HttpResponse.json(switched)),
      http.post(`/api/v1/migrations/${switched.id}/cancel`, () =>
        HttpResponse.json(
          { type: 'https://faultline.dev/problems/migration-past-switchover', title: 'Conflict', status: 409, detail: 'the job switched over at 20:00:05' },
          { status: 409, headers: problemHeaders },
        ),
      ),
    );
    const { user } = renderApp({ path: `/migrations/${switched.id}`, session: admin });
    await user.click(await screen.findByRole('button', { name: 'Cancel migration' }));
    const dialog = screen.getByRole('dialog');
    expect(dialog).toHaveTextContent('the service will refuse to cancel it');
    await user.click(within(dialog).getByRole('button', { name: 'Cancel migration' }));

    const alert = await within(dialog).findByRole('alert');
    expect(alert).toHaveTextContent('Refused: the job has already switched over');
    expect(alert).toHaveTextContent('the job switched over at 20:00:05');
    expect(screen.queryByRole('button', { name: 'Start postcopy now' })).toBeNull();
  });

  it('pauses and resumes, with confirmation before pausing', async () => {
    let current = job();
    server.use(
      http.get(`/api/v1/migrations/${current.id}`, () => HttpResponse.json(current)),
      http.post(`/api/v1/migrations/${current.id}/pause`, () => {
        current = job({ phase: 'PAUSED', pausedIn: 'PRECOPY' });
        return HttpResponse.json(current, { status: 202 });
      }),
      http.post(`/api/v1/migrations/${current.id}/resume`, () => {
        current = job();
        return HttpResponse.json(current, { status: 202 });
      }),
    );
    const { user } = renderApp({ path: `/migrations/${current.id}`, session: admin });
    await user.click(await screen.findByRole('button', { name: 'Pause' }));
    await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Pause migration' }));
    expect(await screen.findByText('PAUSED in PRECOPY')).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Resume' }));
    expect(await screen.findByRole('button', { name: 'Pause' })).toBeInTheDocument();
  });

  it('offers a viewer no control', async () => {
    server.use(http.get(`/api/v1/migrations/${job().id}`, () => HttpResponse.json(job())));
    renderApp({ path: `/migrations/${job().id}`, session: { token: viewerToken, identity: viewerIdentity } });
    await screen.findByRole('list', { name: 'Migration phases' });
    expect(within(screen.getByRole('main')).queryByRole('button')).toBeNull();
  });
});
