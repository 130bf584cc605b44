import { useMutation } from '@tanstack/react-query';

import { ApiError, apiClient } from '@/lib/api-client';
import { type Identity, isIdentity } from '@/lib/identity';

/**
 * `GET /api/v1/whoami`: who a bearer token belongs to. Pass `token` to check a token that is
 * not yet the session's; leave it out to ask about the signed-in one.
 */
export async function getWhoami({
  token,
  signal,
}: { token?: string; signal?: AbortSignal } = {}): Promise<Identity> {
  const identity = await apiClient.get<unknown>('/api/v1/whoami', { token, signal });
  if (!isIdentity(identity)) {
    throw new ApiError({
      kind: 'invalid-response',
      status: 200,
      title: 'Unexpected answer from the service',
      detail: 'whoami did not return a token id, name and a known role.',
    });
  }
  return identity;
}

/**
 * Checks a pasted token by asking whoami with it. A mutation, not a query: it runs when the
 * user submits, and its 401 means "wrong token" here, not "session over".
 */
export function useVerifyToken() {
  return useMutation({
    mutationFn: (token: string) => getWhoami({ token }),
    meta: { handlesUnauthorized: true },
  });
}
