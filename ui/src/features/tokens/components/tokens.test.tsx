import { screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';

import type { Token } from '@/features/tokens/api/types';
import { adminIdentity, adminToken, operatorIdentity, operatorToken } from '@/testing/mocks/fixtures';
import { problemHeaders } from '@/testing/mocks/handlers';
import { server } from '@/testing/mocks/server';
import { renderApp } from '@/testing/test-utils';

const admin = { token: adminToken, identity: adminIdentity };
const own: Token = { id: adminIdentity.tokenId, name: 'admin', role: 'ADMIN', prefix: 'fl_adm', createdAt: '2026-11-24T19:00:00Z', createdBy: 'bootstrap', expiresAt: null, lastUsedAt: null };

describe('tokens', () => {
  it('shows a new token’s secret once, with a copy button, until the admin hides it', async () => {
    let tokens: Token[] = [own];
    server.use(
      http.get('/api/v1/tokens', () => HttpResponse.json(tokens)),
      http.post('/api/v1/tokens', async ({ request }) => {
        const body = (await request.json()) as { name: string; role: 'VIEWER' };
        const created = { ...own, id: 'b2', name: body.name, role: body.role, prefix: 'fl_v1', createdBy: 'admin' };
        tokens = [...tokens, created];
        return HttpResponse.json({ ...created, token: 'fl_v1_secretsecretsecret' }, { status: 201 });
      }),
    );
    const { user } = renderApp({ path: '/tokens', session: admin });
    const form = await screen.findByRole('form', { name: 'New token' });
    await user.type(within(form).getByLabelText('Name'), 'grafana');
    await user.click(within(form).getByRole('button', { name: 'Create token' }));

    expect(await screen.findByTestId('issued-secret')).toHaveTextContent('fl_v1_secretsecretsecret');
    expect(screen.getByRole('button', { name: 'Copy token secret' })).toBeInTheDocument();
    expect(screen.getByText(/shown only this once/)).toBeInTheDocument();
    expect(await screen.findByRole('row', { name: /grafana/ })).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: /hide the secret/ }));
    expect(screen.queryByText('fl_v1_secretsecretsecret')).toBeNull();
  });

  it('explains the last-admin rule when revoking is refused', async () => {
    server.use(
      http.get('/api/v1/tokens', () => HttpResponse.json([own])),
      http.delete(`/api/v1/tokens/${own.id}`, () =>
        HttpResponse.json(
          { type: 'https://faultline.dev/problems/last-admin-token', title: 'Last admin token', status: 409, detail: 'revoking this token would leave no admin token' },
          { status: 409, headers: problemHeaders },
        ),
      ),
    );
    const { user } = renderApp({ path: '/tokens', session: admin });
    await user.click(await screen.findByRole('button', { name: 'Revoke token admin' }));
    const dialog = screen.getByRole('dialog');
    expect(dialog).toHaveTextContent('the token you are signed in with');
    await user.click(within(dialog).getByRole('button', { name: 'Revoke token' }));
    await waitFor(() => expect(within(dialog).getByRole('alert')).toHaveTextContent('This is the last admin token'));
    expect(within(dialog).getByRole('alert')).toHaveTextContent('Create another ADMIN token first');
  });

  it('is not offered to an operator', async () => {
    renderApp({ path: '/tokens', session: { token: operatorToken, identity: operatorIdentity } });
    expect(await screen.findByText('Managing tokens needs an ADMIN token.')).toBeInTheDocument();
    expect(screen.queryByRole('link', { name: 'Tokens' })).toBeNull();
  });
});
