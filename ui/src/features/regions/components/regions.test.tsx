import { screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';

import { adminIdentity, adminToken, page, region, viewerIdentity, viewerToken } from '@/testing/mocks/fixtures';
import { problemHeaders } from '@/testing/mocks/handlers';
import { server } from '@/testing/mocks/server';
import { renderApp } from '@/testing/test-utils';

const admin = { token: adminToken, identity: adminIdentity };
const viewer = { token: viewerToken, identity: viewerIdentity };
const id = region().id;

function serveRegion(...answers: { body: ReturnType<typeof region>; etag: string }[]) {
  let call = 0;
  server.use(
    http.get(`/api/v1/regions/${id}`, () => {
      const answer = answers[Math.min(call, answers.length - 1)]!;
      call += 1;
      return HttpResponse.json(answer.body, { headers: { ETag: answer.etag } });
    }),
  );
}

describe('regions list', () => {
  it('shows the service’s selector error under the selector field, not as a page error', async () => {
    const asked: (string | null)[] = [];
    server.use(
      http.get('/api/v1/regions', ({ request }) => {
        const selector = new URL(request.url).searchParams.get('selector');
        asked.push(selector);
        if (selector === 'app in')
          return HttpResponse.json(
            { type: 'https://faultline.dev/problems/validation', title: 'Invalid request', status: 400, detail: "selector: at position 7: expected '(' after 'in' but the selector ends" },
            { status: 400, headers: problemHeaders },
          );
        return HttpResponse.json(page([region()]));
      }),
    );
    const { user } = renderApp({ path: '/regions', session: admin });
    await screen.findByRole('link', { name: 'demo' });

    await user.type(screen.getByLabelText('Label selector'), 'app in');
    await user.click(screen.getByRole('button', { name: 'Apply filter' }));

    const field = screen.getByLabelText('Label selector');
    await waitFor(() => expect(field).toHaveAttribute('aria-invalid', 'true'));
    expect(field).toHaveAccessibleDescription(expect.stringContaining("at position 7: expected '(' after 'in'"));
    expect(screen.queryByRole('alert')).toBeNull();
    expect(asked).toContain('app in');
  });

  it('filters by state and pages through the results', async () => {
    const asked: string[] = [];
    server.use(
      http.get('/api/v1/regions', ({ request }) => {
        const params = new URL(request.url).searchParams;
        asked.push(`${params.get('state') ?? ''}/${params.get('page')}`);
        const p = Number(params.get('page'));
        return HttpResponse.json(page([region({ name: `r-page-${p}` })], { page: p, totalPages: 2, totalItems: 30 }));
      }),
    );
    const { user } = renderApp({ path: '/regions', session: admin });
    await screen.findByRole('link', { name: 'r-page-0' });
    expect(screen.getByText(/Page 1 of 2/)).toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Next page' }));
    expect(await screen.findByRole('link', { name: 'r-page-1' })).toBeInTheDocument();
    await user.selectOptions(screen.getByLabelText('State'), 'DETACHED');
    await waitFor(() => expect(asked).toContain('DETACHED/0'));
    expect(asked.slice(0, 2)).toEqual(['/0', '/1']);
  });
});

describe('region page', () => {
  it('shows geometry in hex and human units, pages by install path and the owner', async () => {
    serveRegion({ body: region(), etag: '"3"' });
    renderApp({ path: `/regions/${id}`, session: admin });

    const geometry = await screen.findByRole('region', { name: 'Geometry' });
    expect(within(geometry).getByText('0x7f3a00000000')).toBeInTheDocument();
    expect(within(geometry).getByText('0x7f3a04000000')).toBeInTheDocument();
    expect(within(geometry).getByText('64 MiB')).toBeInTheDocument();
    expect(within(geometry).getByText('(0x4000000)')).toBeInTheDocument();
    const pages = screen.getByRole('region', { name: 'Pages' });
    expect(within(pages).getByRole('progressbar', { name: 'Pages present' })).toHaveAttribute('aria-valuetext', '4,096 of 16,384 pages present · 25 %');
    const byPath = within(pages).getByLabelText('Pages by install path');
    expect(within(byPath).getByText('fault-around').nextSibling).toHaveTextContent('9,000');
    expect(within(byPath).getByText('background').nextSibling).toHaveTextContent('6,184');
    expect(within(screen.getByRole('region', { name: 'Owner' })).getByText('4242')).toBeInTheDocument();
  });

  it('saves labels as a merge patch with the ETag the edit started from', async () => {
    serveRegion({ body: region(), etag: '"3"' });
    let sent: { ifMatch: string | null; type: string | null; body: unknown } | null = null;
    server.use(
      http.patch(`/api/v1/regions/${id}`, async ({ request }) => {
        sent = { ifMatch: request.headers.get('If-Match'), type: request.headers.get('Content-Type'), body: await request.json() };
        return HttpResponse.json(region({ labels: { tier: 'gold' } }), { headers: { ETag: '"4"' } });
      }),
    );
    const { user } = renderApp({ path: `/regions/${id}`, session: admin });
    await user.click(await screen.findByRole('button', { name: 'Edit labels' }));
    const text = screen.getByRole('textbox', { name: 'Labels' });
    await user.clear(text);
    await user.type(text, 'tier=gold');
    await user.click(screen.getByRole('button', { name: 'Save labels' }));

    await waitFor(() => expect(sent).not.toBeNull());
    expect(sent).toEqual({ ifMatch: '"3"', type: 'application/merge-patch+json', body: { labels: { app: null, tier: 'gold' } } });
    expect(await screen.findByText('tier=gold')).toBeInTheDocument();
  });

  it('explains a 412 (changed meanwhile) and reloads the region on request', async () => {
    serveRegion({ body: region(), etag: '"3"' }, { body: region({ labels: { app: 'faultline-demo', owner: 'team-b' } }), etag: '"4"' });
    server.use(
      http.patch(`/api/v1/regions/${id}`, () =>
        HttpResponse.json({ type: 'https://faultline.dev/problems/precondition-failed', title: 'Precondition failed', status: 412, detail: 'stale' }, { status: 412, headers: problemHeaders }),
      ),
    );
    const { user } = renderApp({ path: `/regions/${id}`, session: admin });
    await user.click(await screen.findByRole('button', { name: 'Edit labels' }));
    await user.type(screen.getByRole('textbox', { name: 'Labels' }), '\ntier=gold');
    await user.click(screen.getByRole('button', { name: 'Save labels' }));

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('This region changed since you started editing');
    expect(alert).toHaveTextContent('Nothing was saved');
    await user.click(within(alert).getByRole('button', { name: 'Reload region' }));
    expect(await screen.findByText('owner=team-b')).toBeInTheDocument();
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('asks before detaching: the dialog traps focus, Escape closes it, confirm detaches', async () => {
    serveRegion({ body: region(), etag: '"3"' });
    let detached = 0;
    server.use(
      http.delete(`/api/v1/regions/${id}`, () => {
        detached += 1;
        return HttpResponse.json(region({ state: 'DETACHING' }), { status: 202 });
      }),
    );
    const { user } = renderApp({ path: `/regions/${id}`, session: admin });
    const open = await screen.findByRole('button', { name: 'Detach' });
    await user.click(open);

    let dialog = screen.getByRole('dialog', { name: 'Detach region demo?' });
    expect(dialog).toHaveTextContent('installs every page still missing (12,288');
    expect(within(dialog).getByRole('button', { name: 'Cancel' })).toHaveFocus();
    await user.tab();
    expect(within(dialog).getByRole('button', { name: 'Detach region' })).toHaveFocus();
    await user.tab();
    expect(within(dialog).getByRole('button', { name: 'Cancel' })).toHaveFocus();
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(open).toHaveFocus();
    expect(detached).toBe(0);

    await user.click(open);
    dialog = screen.getByRole('dialog');
    await user.click(within(dialog).getByRole('button', { name: 'Detach region' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    expect(detached).toBe(1);
  });

  it('shows a viewer no action at all', async () => {
    serveRegion({ body: region(), etag: '"3"' });
    renderApp({ path: `/regions/${id}`, session: viewer });
    await screen.findByRole('region', { name: 'Geometry' });
    await screen.findByRole('region', { name: 'Snapshots' });
    expect(screen.queryByRole('button', { name: 'Detach' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Edit labels' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Take snapshot now' })).toBeNull();
  });
});
