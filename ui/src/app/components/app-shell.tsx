import { NavLink, Outlet } from 'react-router';

import { Badge } from '@/components/ui/badge';
import { Button } from '@/components/ui/button';
import { paths } from '@/config/paths';
import { Authorized } from '@/lib/authorization';
import { useSession } from '@/lib/session';

import { StreamIndicator } from './stream-indicator';

import './app-shell.css';

const navLinks = [
  { to: paths.overview, label: 'Overview', end: true },
  { to: paths.regions, label: 'Regions' },
  { to: paths.restores, label: 'Restores' },
  { to: paths.snapshots, label: 'Snapshots' },
  { to: paths.policies, label: 'Policies' },
  { to: paths.migrations, label: 'Migrations' },
] as const;

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
            {navLinks.map((link) => (
              <li key={link.to}>
                <NavLink to={link.to} end={'end' in link}>
                  {link.label}
                </NavLink>
              </li>
            ))}
            <Authorized required="ADMIN">
              <li>
                <NavLink to={paths.tokens}>Tokens</NavLink>
              </li>
            </Authorized>
          </ul>
        </nav>
        <StreamIndicator />
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
