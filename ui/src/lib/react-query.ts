import { MutationCache, QueryCache, QueryClient } from '@tanstack/react-query';

import { type ApiError, isApiError } from '@/lib/api-client';

/**
 * Set `meta: { handlesUnauthorized: true }` on a query or mutation that deals with a 401 itself
 * (the sign-in check), so it does not end the current session.
 */
export type RequestMeta = { handlesUnauthorized?: boolean };

declare module '@tanstack/react-query' {
  interface Register {
    queryMeta: RequestMeta;
    mutationMeta: RequestMeta;
  }
}

const maxRetries = 2;

/** 4xx answers will not change by asking again; network failures and 5xx might. */
function shouldRetry(failureCount: number, error: unknown): boolean {
  if (isApiError(error) && error.status >= 400 && error.status < 500) return false;
  return failureCount < maxRetries;
}

export function createQueryClient({ onUnauthorized }: { onUnauthorized: (error: ApiError) => void }) {
  const unauthorized = (error: unknown, meta: RequestMeta | undefined) => {
    if (isApiError(error) && error.status === 401 && !meta?.handlesUnauthorized) {
      onUnauthorized(error);
    }
  };
  return new QueryClient({
    queryCache: new QueryCache({ onError: (error, query) => unauthorized(error, query.meta) }),
    mutationCache: new MutationCache({
      onError: (error, _variables, _context, mutation) => unauthorized(error, mutation.meta),
    }),
    defaultOptions: {
      queries: { retry: shouldRetry },
      mutations: { retry: false },
    },
  });
}
