import { http, HttpResponse } from 'msw';

import { adminIdentity, adminToken, hostInfo, problem, viewerIdentity, viewerToken } from './fixtures';

const problemHeaders = { 'Content-Type': 'application/problem+json' };

function unauthorized(instance: string) {
  return HttpResponse.json(
    { ...problem(401, 'Unauthorized', 'The bearer token is unknown, expired or revoked.'), instance },
    { status: 401, headers: problemHeaders },
  );
}

function identityFor(request: Request) {
  const authorization = request.headers.get('Authorization');
  if (authorization === `Bearer ${adminToken}`) return adminIdentity;
  if (authorization === `Bearer ${viewerToken}`) return viewerIdentity;
  return null;
}

/** The service as the contract describes it, for the two known tokens. Tests override per case. */
export const handlers = [
  http.get('/api/v1/whoami', ({ request }) => {
    const identity = identityFor(request);
    return identity ? HttpResponse.json(identity) : unauthorized('/api/v1/whoami');
  }),
  http.get('/api/v1/host', ({ request }) =>
    identityFor(request) ? HttpResponse.json(hostInfo()) : unauthorized('/api/v1/host'),
  ),
];

export { problemHeaders, unauthorized };
