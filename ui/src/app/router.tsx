import { Route, Routes } from 'react-router';

import { paths } from '@/config/paths';

import { AppShell } from './components/app-shell';
import { RequireSession } from './components/require-session';
import { MigrationRoute, MigrationsRoute } from './routes/migrations';
import { NotFoundRoute } from './routes/not-found';
import { OverviewRoute } from './routes/overview';
import { EditPolicyRoute, NewPolicyRoute, PoliciesRoute, PolicyRoute } from './routes/policies';
import { RegionRoute } from './routes/region';
import { RegionsRoute } from './routes/regions';
import { RestoresRoute } from './routes/restores';
import { SignInRoute } from './routes/sign-in';
import { SnapshotRoute, SnapshotsRoute } from './routes/snapshots';
import { TokensRoute } from './routes/tokens';

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
        <Route path="regions" element={<RegionsRoute />} />
        <Route path="regions/:id" element={<RegionRoute />} />
        <Route path="restores" element={<RestoresRoute />} />
        <Route path="snapshots" element={<SnapshotsRoute />} />
        <Route path="snapshots/:id" element={<SnapshotRoute />} />
        <Route path="policies" element={<PoliciesRoute />} />
        <Route path="policies/new" element={<NewPolicyRoute />} />
        <Route path="policies/:id" element={<PolicyRoute />} />
        <Route path="policies/:id/edit" element={<EditPolicyRoute />} />
        <Route path="migrations" element={<MigrationsRoute />} />
        <Route path="migrations/:id" element={<MigrationRoute />} />
        <Route path="tokens" element={<TokensRoute />} />
        <Route path="*" element={<NotFoundRoute />} />
      </Route>
    </Routes>
  );
}
