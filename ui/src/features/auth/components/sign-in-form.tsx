import { type FormEvent, useId, useState } from 'react';

import { Button } from '@/components/ui/button';
import { ErrorMessage } from '@/components/ui/error-message';
import { useSession } from '@/lib/session';

import { useVerifyToken } from '../api/get-whoami';

import './sign-in-form.css';

/** People often copy the whole header value; accept that too. */
function normaliseToken(raw: string): string {
  return raw.trim().replace(/^bearer\s+/i, '').trim();
}

/**
 * Sign-in by API token: the token is checked against whoami before it becomes the session's,
 * and is kept in this tab's sessionStorage only.
 */
export function SignInForm() {
  const { notice, signIn } = useSession();
  const verifyToken = useVerifyToken();
  const [token, setToken] = useState('');
  const [emptyTokenError, setEmptyTokenError] = useState(false);
  const inputId = useId();
  const hintId = useId();
  const fieldErrorId = useId();

  function handleSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const candidate = normaliseToken(token);
    if (candidate === '') {
      setEmptyTokenError(true);
      return;
    }
    setEmptyTokenError(false);
    verifyToken.mutate(candidate, {
      onSuccess: (identity) => signIn(candidate, identity),
    });
  }

  return (
    <form className="sign-in-form" onSubmit={handleSubmit} noValidate>
      {notice && !verifyToken.isError ? (
        <p className="sign-in-form__notice" role="status">
          {notice}
        </p>
      ) : null}

      <div className="sign-in-form__field">
        <label htmlFor={inputId}>API token</label>
        <input
          id={inputId}
          name="token"
          type="password"
          autoComplete="off"
          spellCheck={false}
          autoFocus
          value={token}
          onChange={(event) => setToken(event.target.value)}
          aria-invalid={emptyTokenError || undefined}
          aria-describedby={[hintId, emptyTokenError ? fieldErrorId : null].filter(Boolean).join(' ')}
        />
        <p id={hintId} className="sign-in-form__hint muted">
          Paste a token issued by a Faultline administrator. It is kept in this browser tab only
          and forgotten when the tab closes.
        </p>
        {emptyTokenError ? (
          <p id={fieldErrorId} className="sign-in-form__field-error">
            Enter a token.
          </p>
        ) : null}
      </div>

      {verifyToken.isError ? (
        <ErrorMessage error={verifyToken.error} title="Could not sign in" />
      ) : null}

      <Button type="submit" variant="primary" busy={verifyToken.isPending}>
        {verifyToken.isPending ? 'Checking token…' : 'Sign in'}
      </Button>
    </form>
  );
}
