import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';

import { ApiError, apiClient } from '@/lib/api-client';
import { writeStoredSession } from '@/lib/session-storage';
import { adminIdentity } from '@/testing/mocks/fixtures';
import { server } from '@/testing/mocks/server';

async function rejection(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

describe('apiClient', () => {
  it('sends the session token as a bearer token and returns the parsed body', async () => {
    writeStoredSession({ token: 'session-token', identity: adminIdentity });
    let authorization: string | null = null;
    server.use(
      http.get('/api/v1/thing', ({ request }) => {
        authorization = request.headers.get('Authorization');
        return HttpResponse.json({ answer: 42 });
      }),
    );

    await expect(apiClient.get('/api/v1/thing')).resolves.toEqual({ answer: 42 });
    expect(authorization).toBe('Bearer session-token');
  });

  it('prefers an explicit token and sends none when signed out', async () => {
    const seen: (string | null)[] = [];
    server.use(
      http.get('/api/v1/thing', ({ request }) => {
        seen.push(request.headers.get('Authorization'));
        return HttpResponse.json({});
      }),
    );

    await apiClient.get('/api/v1/thing', { token: 'candidate' });
    await apiClient.get('/api/v1/thing');
    expect(seen).toEqual(['Bearer candidate', null]);
  });

  it('maps a problem+json answer to an ApiError with its title, detail, type and field errors', async () => {
    server.use(
      http.post('/api/v1/regions', () =>
        HttpResponse.json(
          {
            type: 'https://faultline.dev/problems/validation',
            title: 'Invalid region',
            status: 422,
            detail: 'The region has 2 invalid fields.',
            instance: '/api/v1/regions',
            errors: [
              { field: 'length', message: 'must be a multiple of the page size' },
              { field: 'name', message: 'must not be blank' },
            ],
          },
          { status: 422, headers: { 'Content-Type': 'application/problem+json' } },
        ),
      ),
    );

    const error = await rejection(apiClient.post('/api/v1/regions', { name: '' }));
    expect(error).toMatchObject({
      kind: 'problem',
      status: 422,
      title: 'Invalid region',
      detail: 'The region has 2 invalid fields.',
      type: 'https://faultline.dev/problems/validation',
      instance: '/api/v1/regions',
    });
    expect(error.fieldErrors).toEqual([
      { field: 'length', message: 'must be a multiple of the page size' },
      { field: 'name', message: 'must not be blank' },
    ]);
  });

  it('maps a plain-text 500 to an ApiError carrying the text as detail', async () => {
    server.use(
      http.get('/api/v1/host', () =>
        HttpResponse.text('agent control socket closed unexpectedly', { status: 500 }),
      ),
    );

    const error = await rejection(apiClient.get('/api/v1/host'));
    expect(error).toMatchObject({
      kind: 'http',
      status: 500,
      title: 'Internal server error',
      detail: 'agent control socket closed unexpectedly',
      fieldErrors: [],
    });
  });

  it('does not put the markup of an HTML error page into the message', async () => {
    server.use(
      http.get('/api/v1/host', () =>
        HttpResponse.html('<html><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>', {
          status: 502,
        }),
      ),
    );

    const error = await rejection(apiClient.get('/api/v1/host'));
    expect(error.status).toBe(502);
    expect(error.title).toBe('Bad gateway');
    expect(error.detail).toMatch(/HTML page/);
    expect(error.detail).not.toContain('<');
  });

  it('falls back to the status when a JSON error body is not a problem object', async () => {
    server.use(
      http.get('/api/v1/host', () =>
        new HttpResponse('not json at all', {
          status: 503,
          headers: { 'Content-Type': 'application/problem+json' },
        }),
      ),
    );

    const error = await rejection(apiClient.get('/api/v1/host'));
    expect(error).toMatchObject({ status: 503, title: 'Service unavailable', detail: 'not json at all' });
  });

  it('maps a network failure to an ApiError with status 0', async () => {
    server.use(http.get('/api/v1/host', () => HttpResponse.error()));

    const error = await rejection(apiClient.get('/api/v1/host'));
    expect(error).toMatchObject({
      kind: 'network',
      status: 0,
      title: 'Cannot reach the Faultline service',
    });
    expect(error.detail).toBeTruthy();
  });

  it('reports a success answer that is not JSON (e.g. index.html for an unknown path)', async () => {
    server.use(http.get('/api/v1/host', () => HttpResponse.html('<!doctype html><div id="root"></div>')));

    const error = await rejection(apiClient.get('/api/v1/host'));
    expect(error).toMatchObject({ kind: 'invalid-response', status: 200 });
  });

  it('lets an abort through as an abort, not as an ApiError', async () => {
    server.use(http.get('/api/v1/host', () => new Promise<never>(() => {})));
    const controller = new AbortController();

    const call = apiClient.get('/api/v1/host', { signal: controller.signal });
    controller.abort();
    const error = await call.catch((reason: unknown) => reason);
    expect(error).not.toBeInstanceOf(ApiError);
    expect((error as Error).name).toBe('AbortError');
  });
});
