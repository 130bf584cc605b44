import { screen, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';

import { readStoredToken } from '@/lib/session-storage';
import { adminIdentity, adminToken, viewerIdentity, viewerToken } from '@/testing/mocks/fixtures';
import { problemHeaders, unauthorized } from '@/testing/mocks/handlers';
import { server } from '@/testing/mocks/server';
import { renderApp } from '@/testing/test-utils';

describe('sign-in', () => {
  it('sends a visitor without a session to sign-in', async () => {
    renderApp({ path: '/' });

    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeInTheDocument();
    expect(readStoredToken()).toBeNull();
  });

  it('signing in with a valid token stores it for the session and shows the overview', async () => {
    const { user } = renderApp({ path: '/' });

    await user.type(await screen.findByLabelText('API token'), adminToken);
    await user.click(screen.getByRole('button', { name: 'Sign in' }));

    expect(await screen.findByRole('heading', { name: 'Host overview' })).toBeInTheDocument();
    expect(window.sessionStorage.getItem('faultline.token')).toBe(adminToken);
    expect(window.localStorage.length).toBe(0);
    const banner = screen.getByRole('banner');
    expect(within(banner).getByText('admin')).toBeInTheDocument();
    expect(within(banner).getByText('ADMIN')).toBeInTheDocument();
    // The overview's data was fetched with the new token.
    expect(await screen.findByText('READY')).toBeInTheDocument();
  });

  it('accepts a token pasted with its "Bearer " prefix', async () => {
    const { user } = renderApp({ path: '/' });

    await user.type(await screen.findByLabelText('API token'), `  Bearer ${viewerToken} `);
    await user.click(screen.getByRole('button', { name: 'Sign in' }));

    expect(await screen.findByRole('heading', { name: 'Host overview' })).toBeInTheDocument();
    expect(readStoredToken()).toBe(viewerToken);
  });

  it('shows the problem detail when the service rejects the token, and stays signed out', async () => {
    const { user } = renderApp({ path: '/' });

    await user.type(await screen.findByLabelText('API token'), 'not-a-real-token');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Could not sign in');
    expect(alert).toHaveTextContent('The bearer token is unknown, expired or revoked.');
    expect(alert).toHaveTextContent('HTTP 401');
    expect(readStoredToken()).toBeNull();
    expect(screen.getByRole('heading', { name: 'Sign in' })).toBeInTheDocument();
  });

  it('asks for a token instead of calling the service with an empty one', async () => {
    let calls = 0;
    server.use(
      http.get('/api/v1/whoami', () => {
        calls += 1;
        return HttpResponse.json(adminIdentity);
      }),
    );
    const { user } = renderApp({ path: '/' });

    await user.click(await screen.findByRole('button', { name: 'Sign in' }));

    expect(screen.getByText('Enter a token.')).toBeInTheDocument();
    expect(screen.getByLabelText('API token')).toHaveAttribute('aria-invalid', 'true');
    expect(calls).toBe(0);
  });

  it('rejects a whoami answer without a known role', async () => {
    server.use(
      http.get('/api/v1/whoami', () =>
        HttpResponse.json({ tokenId: 'x', name: 'root', role: 'SUPERUSER' }),
      ),
    );
    const { user } = renderApp({ path: '/' });

    await user.type(await screen.findByLabelText('API token'), adminToken);
    await user.click(screen.getByRole('button', { name: 'Sign in' }));

    expect(await screen.findByRole('alert')).toHaveTextContent(/known role/);
    expect(readStoredToken()).toBeNull();
  });

  it('returns to the page the visitor first asked for', async () => {
    const { user } = renderApp({ path: '/no-such-page' });

    await user.type(await screen.findByLabelText('API token'), adminToken);
    await user.click(screen.getByRole('button', { name: 'Sign in' }));

    expect(await screen.findByRole('heading', { name: 'Page not found' })).toBeInTheDocument();
  });
});

describe('session', () => {
  it('a stored session opens the overview straight away', async () => {
    renderApp({ path: '/', session: { token: viewerToken, identity: viewerIdentity } });

    expect(await screen.findByRole('heading', { name: 'Host overview' })).toBeInTheDocument();
    expect(screen.getByText('dashboard')).toBeInTheDocument();
  });

  it('a 401 from any request ends the session and explains why on the sign-in screen', async () => {
    server.use(http.get('/api/v1/host', () => unauthorized('/api/v1/host')));
    renderApp({ path: '/', session: { token: adminToken, identity: adminIdentity } });

    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeInTheDocument();
    expect(screen.getByRole('status')).toHaveTextContent(/session has ended/i);
    expect(readStoredToken()).toBeNull();
  });

  it('a 403 does not end the session: it is shown where it happened', async () => {
    server.use(
      http.get('/api/v1/host', () =>
        HttpResponse.json(
          {
            type: 'https://faultline.dev/problems/forbidden',
            title: 'Forbidden',
            status: 403,
            detail: 'Role VIEWER cannot read host details.',
          },
          { status: 403, headers: problemHeaders },
        ),
      ),
    );
    renderApp({ path: '/', session: { token: viewerToken, identity: viewerIdentity } });

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Could not load the host');
    expect(alert).toHaveTextContent('Role VIEWER cannot read host details.');
    expect(readStoredToken()).toBe(viewerToken);
  });

  it('signing out forgets the token and says so', async () => {
    const { user } = renderApp({ path: '/', session: { token: adminToken, identity: adminIdentity } });

    await user.click(await screen.findByRole('button', { name: 'Sign out' }));

    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeInTheDocument();
    expect(screen.getByRole('status')).toHaveTextContent('You have signed out.');
    expect(window.sessionStorage.length).toBe(0);
  });
});
