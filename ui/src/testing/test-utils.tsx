import { render } from '@testing-library/react';
import type { ComponentProps } from 'react';
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
  streamOptions = { backoff: () => 50 },
}: {
  path?: string;
  session?: { token: string; identity: Identity };
  streamOptions?: ComponentProps<typeof AppProvider>['streamOptions'];
} = {}) {
  if (session) writeStoredSession(session);
  const user = userEvent.setup();
  const result = render(
    <AppProvider streamOptions={streamOptions}>
      <MemoryRouter initialEntries={[path]}>
        <AppRoutes />
      </MemoryRouter>
    </AppProvider>,
  );
  return { user, ...result };
}
