import { render } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter } from 'react-router';

import { AppProvider } from '@/app/provider';
import { AppRoutes } from '@/app/router';
import { writeStoredSession } from '@/lib/session-storage';
import type { Identity } from '@/lib/identity';

/** Renders the whole app (providers and routes) at `path`, optionally already signed in. */
export function renderApp({
  path = '/',
  session,
}: { path?: string; session?: { token: string; identity: Identity } } = {}) {
  if (session) writeStoredSession(session);
  const user = userEvent.setup();
  const result = render(
    <AppProvider>
      <MemoryRouter initialEntries={[path]}>
        <AppRoutes />
      </MemoryRouter>
    </AppProvider>,
  );
  return { user, ...result };
}
