import { Route, Routes } from 'react-router';

import { paths } from '@/config/paths';

import { AppShell } from './components/app-shell';
import { RequireSession } from './components/require-session';
import { NotFoundRoute } from './routes/not-found';
import { OverviewRoute } from './routes/overview';
import { SignInRoute } from './routes/sign-in';

/** All client-side routes; wrapped in a router by the app (browser) or by tests (memory). */
export function AppRoutes() {
  return (
    <Routes>
      <Route path={paths.signIn} element={<SignInRoute />} />
      <Route
        element={
          <RequireSession>
            <AppShell />
          </RequireSession>
        }
      >
        <Route index element={<OverviewRoute />} />
        <Route path="*" element={<NotFoundRoute />} />
      </Route>
    </Routes>
  );
}
