import { useEffect } from 'react';
import { Navigate, useLocation } from 'react-router';

import { paths } from '@/config/paths';
import { SignInForm } from '@/features/auth/components/sign-in-form';
import { useSession } from '@/lib/session';

import type { SignInLocationState } from '../components/require-session';

import './sign-in.css';

/** Only same-app paths: a crafted link must not bounce a fresh session to another site. */
function safeTarget(from: unknown): string {
  return typeof from === 'string' && from.startsWith('/') && !from.startsWith('//') && from !== paths.signIn
    ? from
    : paths.overview;
}

export function SignInRoute() {
  const { session } = useSession();
  const location = useLocation();

  useEffect(() => {
    document.title = 'Sign in · Faultline';
  }, []);

  if (session) {
    const state = location.state as SignInLocationState | null;
    return <Navigate to={safeTarget(state?.from)} replace />;
  }

  return (
    <main className="sign-in-page">
      <div className="sign-in-page__panel">
        <div className="sign-in-page__brand">
          <span className="brand-mark" aria-hidden="true" />
          Faultline
        </div>
        <h1>Sign in</h1>
        <p className="muted">userfaultfd control plane</p>
        <SignInForm />
      </div>
    </main>
  );
}
