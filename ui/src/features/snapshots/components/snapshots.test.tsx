import { screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';

import { adminIdentity, adminToken, engineUnavailable, page, region, snapshot } from '@/testing/mocks/fixtures';
import { problemHeaders } from '@/testing/mocks/handlers';
import { server } from '@/testing/mocks/server';
import { renderApp } from '@/testing/test-utils';

const admin = { token: adminToken, identity: adminIdentity };

describe('snapshots', () => {
  it('takes a snapshot from the region page and follows the job to FAILED with its reason', async () => {
    const regionId = region().id;
    const taken = snapshot({ id: '9d11250f-0000-4000-8000-000000000002', state: 'PENDING', completedAt: null, durationMs: null, sizeBytes: null });
    let polls = 0;
    let takeBody: unknown = null;
    server.use(
      http.get(`/api/v1/regions/${regionId}`, () => HttpResponse.json(region(), { headers: { ETag: '"1"' } })),
      http.post('/api/v1/snapshots', async ({ request }) => {
        takeBody = await request.json();
        return HttpResponse.json(taken, { status: 202 });
      }),
      http.get(`/api/v1/snapshots/${taken.id}`, () => {
        polls += 1;
        return HttpResponse.json(polls < 2 ? { ...taken, state: 'RUNNING' } : { ...taken, state: 'FAILED', error: engineUnavailable, durationMs: 28 });
      }),
    );
    const { user } = renderApp({ path: `/regions/${regionId}`, session: admin });
    await user.click(await screen.findByRole('button', { name: 'Take snapshot now' }));

    const job = await screen.findByTestId('snapshot-job');
    await waitFor(() => expect(job).toHaveAttribute('data-state', 'FAILED'), { timeout: 4000 });
    expect(job).toHaveTextContent('FAILED');
    expect(within(job).getByTestId('snapshot-job-error')).toHaveTextContent(`Why it failed: ${engineUnavailable}`);
    expect(within(job).getByRole('link', { name: '9d11250f' })).toHaveAttribute('href', `/snapshots/${taken.id}`);
    expect(takeBody).toEqual({ regionId, kind: 'FULL' });
    expect(screen.getByRole('button', { name: 'Take snapshot now' })).toBeEnabled();
  });

  it('explains the dependency rule when a delete is refused, and consolidates on request', async () => {
    const s = snapshot();
    const deletes: string[] = [];
    server.use(
      http.get(`/api/v1/snapshots/${s.id}`, () => HttpResponse.json(s)),
      http.get(`/api/v1/snapshots/${s.id}/operations`, () => HttpResponse.json([])),
      http.delete(`/api/v1/snapshots/${s.id}`, ({ request }) => {
        deletes.push(new URL(request.url).search);
        if (!request.url.includes('consolidate=true'))
          return HttpResponse.json(
            { type: 'https://faultline.dev/problems/snapshot-has-dependents', title: 'Snapshot has dependents', status: 409, detail: `incremental snapshot(s) [aa11] depend on snapshot ${s.id}` },
            { status: 409, headers: problemHeaders },
          );
        return HttpResponse.json({ id: 'op', snapshotId: s.id, kind: 'DELETE', state: 'PENDING', consolidate: true }, { status: 202 });
      }),
    );
    const { user } = renderApp({ path: `/snapshots/${s.id}`, session: admin });
    await user.click(await screen.findByRole('button', { name: 'Delete…' }));
    await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Delete snapshot' }));

    const alert = await within(screen.getByRole('dialog')).findByRole('alert');
    expect(alert).toHaveTextContent('Other snapshots depend on this one');
    expect(alert).toHaveTextContent('depend on snapshot');
    await user.click(within(alert).getByRole('button', { name: 'Consolidate into dependents, then delete' }));

    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    expect(deletes).toEqual(['', '?consolidate=true']);
  });

  it('lists snapshots with their state, and filters by state', async () => {
    const asked: string[] = [];
    server.use(
      http.get('/api/v1/snapshots', ({ request }) => {
        asked.push(new URL(request.url).searchParams.getAll('state').join(','));
        return HttpResponse.json(page([snapshot({ state: 'FAILED', error: engineUnavailable })]));
      }),
    );
    const { user } = renderApp({ path: '/snapshots', session: admin });
    const table = await screen.findByRole('table', { name: 'Snapshots' });
    expect(within(table).getByText(engineUnavailable)).toBeInTheDocument();
    await user.selectOptions(screen.getByLabelText('State'), 'FAILED');
    await waitFor(() => expect(asked).toContain('FAILED'));
  });
});
