import { screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';

import type { Policy, PolicyPreview } from '@/features/policies/api/types';
import { adminIdentity, adminToken } from '@/testing/mocks/fixtures';
import { problemHeaders } from '@/testing/mocks/handlers';
import { server } from '@/testing/mocks/server';
import { renderApp } from '@/testing/test-utils';

const admin = { token: adminToken, identity: adminIdentity };

const policy: Policy = {
  id: 'a1b2c3d4-0000-4000-8000-000000000001',
  name: 'db-hourly',
  selector: 'app=db',
  schedule: '0 * * * *',
  timeZone: 'Europe/Berlin',
  fullEvery: 24,
  retention: { keepLast: 3, hourly: 24, daily: 7, weekly: 0, monthly: 0, maxAge: 'P30D', keepVerified: 0 },
  paused: false,
  requireQuiesce: false,
  version: 3,
  createdAt: '2026-11-24T19:00:00Z',
  updatedAt: '2026-11-24T19:00:00Z',
  lastFireTime: null,
  nextRunAt: '2026-11-24T21:00:00Z',
};

const preview: PolicyPreview = {
  policyId: policy.id,
  name: policy.name,
  paused: false,
  timeZone: 'Europe/Berlin',
  nextRuns: [
    { at: '2026-03-29T01:00:00+01:00', utc: '2026-03-29T00:00:00Z' },
    { at: '2026-03-29T03:00:00+02:00', utc: '2026-03-29T01:00:00Z' },
  ],
  retention: {
    evaluatedAt: '2026-03-28T23:41:07Z',
    keep: 1,
    prune: 1,
    snapshots: [
      { snapshotId: 's1', regionId: 'r', regionName: 'db', createdAt: '2026-03-28T23:00:00Z', state: 'COMPLETED', kind: 'FULL', decision: 'KEEP', reasons: ['keep-last 1'] },
      { snapshotId: 's2', regionId: 'r', regionName: 'db', createdAt: '2025-01-01T00:00:00Z', state: 'COMPLETED', kind: 'FULL', decision: 'PRUNE', reasons: ['older than max age P30D'] },
    ],
  },
};

describe('snapshot policies', () => {
  it('shows the next five runs in the chosen zone while the cron is typed, before saving', async () => {
    const { user } = renderApp({ path: '/policies/new', session: admin });
    const form = await screen.findByRole('form', { name: 'New snapshot policy' });
    const schedule = within(form).getByLabelText('Schedule (cron)');
    await user.clear(schedule);
    await user.type(schedule, '30 2 * * *');
    const zone = within(form).getByLabelText('Time zone');
    await user.clear(zone);
    await user.type(zone, 'America/New_York');

    const runs = within(form).getAllByRole('listitem').filter((item) => item.closest('ol[aria-label="Next runs"]'));
    expect(runs).toHaveLength(5);
    for (const run of runs) {
      // 02:30 in New York is 07:30 UTC in winter.
      expect(run.querySelector('time')?.getAttribute('datetime')).toMatch(/T07:30:00\.000Z$/);
    }
    expect(within(form).getByText('Next runs in America/New_York')).toBeInTheDocument();

    await user.clear(schedule);
    await user.type(schedule, '* * *');
    expect(within(form).getByText(/has 3 fields/)).toBeInTheDocument();
  });

  it('sends the policy and shows the service’s field errors next to their fields', async () => {
    let body: Record<string, unknown> | null = null;
    server.use(
      http.post('/api/v1/snapshot-policies', async ({ request }) => {
        body = (await request.json()) as Record<string, unknown>;
        return HttpResponse.json(
          {
            type: 'https://faultline.dev/problems/validation',
            title: 'Invalid request',
            status: 400,
            detail: 'Request has invalid fields',
            errors: [
              { field: 'selector', message: "at position 9: 'in' needs at least one value" },
              { field: 'retention.maxAge', message: 'must be a duration such as P30D, PT12H, 30d or 12h' },
            ],
          },
          { status: 400, headers: problemHeaders },
        );
      }),
    );
    const { user } = renderApp({ path: '/policies/new', session: admin });
    const form = await screen.findByRole('form', { name: 'New snapshot policy' });
    await user.type(within(form).getByLabelText('Name'), 'db');
    await user.type(within(form).getByLabelText('Label selector'), 'tier in ()');
    await user.clear(within(form).getByLabelText('Keep last'));
    await user.type(within(form).getByLabelText('Keep last'), '3');
    await user.type(within(form).getByLabelText('Max age'), 'forever');
    await user.click(within(form).getByRole('button', { name: 'Create policy' }));

    await waitFor(() => expect(within(form).getByLabelText('Label selector')).toHaveAccessibleDescription(expect.stringContaining("'in' needs at least one value")));
    expect(within(form).getByLabelText('Max age')).toHaveAccessibleDescription(expect.stringContaining('must be a duration'));
    expect(within(form).queryByRole('alert')).toBeNull();
    expect(body).toMatchObject({ name: 'db', selector: 'tier in ()', retention: { keepLast: 3, maxAge: 'forever' }, fullEvery: 1, paused: false });
  });

  it('saves an edit with If-Match and explains a 412', async () => {
    let ifMatch: string | null = null;
    server.use(
      http.get(`/api/v1/snapshot-policies/${policy.id}`, () => HttpResponse.json(policy, { headers: { ETag: '"3"' } })),
      http.put(`/api/v1/snapshot-policies/${policy.id}`, ({ request }) => {
        ifMatch = request.headers.get('If-Match');
        return HttpResponse.json({ type: 'https://faultline.dev/problems/precondition-failed', title: 'Precondition failed', status: 412 }, { status: 412, headers: problemHeaders });
      }),
    );
    const { user } = renderApp({ path: `/policies/${policy.id}/edit`, session: admin });
    const form = await screen.findByRole('form', { name: 'Edit policy db-hourly' });
    expect(within(form).getByLabelText('Daily')).toHaveValue('7');
    await user.click(within(form).getByRole('button', { name: 'Save policy' }));

    expect(await within(form).findByRole('alert')).toHaveTextContent('Someone changed this policy since you opened the form');
    expect(ifMatch).toBe('"3"');
  });

  it('shows the service’s next runs and what retention keeps and prunes today, and pauses', async () => {
    let paused = false;
    server.use(
      http.get(`/api/v1/snapshot-policies/${policy.id}`, () => HttpResponse.json({ ...policy, paused }, { headers: { ETag: '"3"' } })),
      http.get(`/api/v1/snapshot-policies/${policy.id}/preview`, () => HttpResponse.json(preview)),
      http.get(`/api/v1/snapshot-policies/${policy.id}/runs`, () => HttpResponse.json({ items: [], page: 0, size: 20, totalItems: 0, totalPages: 0 })),
      http.post(`/api/v1/snapshot-policies/${policy.id}/pause`, () => {
        paused = true;
        return HttpResponse.json({ ...policy, paused });
      }),
    );
    const { user } = renderApp({ path: `/policies/${policy.id}`, session: admin });
    const runs = await screen.findByRole('list', { name: 'Next runs from the service' });
    // The spring-forward night: 01:00 CET, then 03:00 CEST.
    expect(within(runs).getByText('2026-03-29T01:00:00+01:00')).toBeInTheDocument();
    expect(within(runs).getByText('2026-03-29T03:00:00+02:00')).toBeInTheDocument();
    const retention = screen.getByRole('region', { name: 'Retention today' });
    expect(retention).toHaveTextContent('Would keep 1 and prune 1');
    expect(within(retention).getByText('older than max age P30D').closest('tr')).toHaveTextContent('PRUNE');

    await user.click(screen.getByRole('button', { name: 'Pause' }));
    expect(await screen.findByRole('button', { name: 'Resume' })).toBeInTheDocument();
  });
});
