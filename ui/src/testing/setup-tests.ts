import '@testing-library/jest-dom/vitest';

import { cleanup } from '@testing-library/react';
import { afterAll, afterEach, beforeAll } from 'vitest';

import { server } from './mocks/server';

// Any request a test did not expect is a failure, not a silent network call.
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => {
  server.resetHandlers();
  // Node-environment tests (source layout checks) have no DOM to reset.
  if (typeof window === 'undefined') return;
  cleanup();
  window.sessionStorage.clear();
  window.history.replaceState(null, '', '/');
});
afterAll(() => server.close());
