import { NavLink, Outlet } from 'react-router';

import { Badge } from '@/components/ui/badge';
import { Button } from '@/components/ui/button';
import { comingPages, paths } from '@/config/paths';
import { useSession } from '@/lib/session';

import './app-shell.css';

export function AppShell() {
  const { session, signOut } = useSession();

  return (
    <div className="app-shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="app-shell__header">
        <div className="app-shell__brand">
          <span className="brand-mark" aria-hidden="true" />
          Faultline
        </div>
        <nav className="app-shell__nav" aria-label="Main">
          <ul>
            <li>
              <NavLink to={paths.overview} end>
                Overview
              </NavLink>
            </li>
            {comingPages.map((page) => (
              <li key={page}>
                <span className="app-shell__coming" aria-disabled="true" title="Not built yet">
                  {page} <span className="app-shell__coming-label">soon</span>
                </span>
              </li>
            ))}
          </ul>
        </nav>
        {session ? (
          <div className="app-shell__identity">
            <span>
              <span className="visually-hidden">Signed in as </span>
              <span className="app-shell__name">{session.identity.name}</span>{' '}
              <Badge tone="info" title="Role of this token">
                {session.identity.role}
              </Badge>
            </span>
            <Button variant="ghost" onClick={() => signOut('You have signed out.')}>
              Sign out
            </Button>
          </div>
        ) : null}
      </header>
      <main id="main" className="app-shell__main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
