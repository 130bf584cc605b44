import { type FormEvent, useState } from 'react';

import { Badge } from '@/components/ui/badge';
import { Button } from '@/components/ui/button';
import { Card } from '@/components/ui/card';
import { ConfirmAction } from '@/components/ui/confirm-action';
import { CopyButton } from '@/components/ui/copy-button';
import { ErrorMessage } from '@/components/ui/error-message';
import { Field } from '@/components/ui/field';
import { fieldErrorOf, isApiError, isProblem } from '@/lib/api-client';
import { formatAge, formatDateTime } from '@/lib/format';
import { type Role, roles } from '@/lib/identity';
import { useSession } from '@/lib/session';

import { useCreateToken } from '../api/create-token';
import { useRevokeToken } from '../api/revoke-token';
import { useTokens } from '../api/get-tokens';
import type { IssuedToken, Token } from '../api/types';

function CreateToken({ onIssued }: { onIssued: (token: IssuedToken) => void }) {
  const create = useCreateToken();
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('VIEWER');
  const [expires, setExpires] = useState('');

  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate(
      { name: name.trim(), role, expiresAt: expires ? new Date(expires).toISOString() : null },
      {
        onSuccess: (issued) => {
          setName('');
          onIssued(issued);
        },
      },
    );
  }
  const explained = isApiError(create.error) && create.error.fieldErrors.length > 0;
  return (
    <form className="form-stack" onSubmit={submit} onChange={() => create.isError && create.reset()} noValidate aria-label="New token">
      <div className="form-grid">
        <Field label="Name" hint="Lower-case letters, digits, '.', '_', '-'." error={fieldErrorOf(create.error, 'name') ?? (isProblem(create.error, 'conflict') ? create.error.detail : null)}>
          {(control) => <input {...control} name="name" value={name} onChange={(event) => setName(event.target.value)} />}
        </Field>
        <Field label="Role" hint="VIEWER reads; OPERATOR changes; ADMIN also manages tokens." error={fieldErrorOf(create.error, 'role')}>
          {(control) => (
            <select {...control} value={role} onChange={(event) => setRole(event.target.value as Role)}>
              {roles.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Expires" hint="Empty: never." error={fieldErrorOf(create.error, 'expiresAt')}>
          {(control) => <input {...control} type="datetime-local" value={expires} onChange={(event) => setExpires(event.target.value)} />}
        </Field>
      </div>
      {create.isError && !explained && !isProblem(create.error, 'conflict') ? <ErrorMessage error={create.error} title="Could not create the token" /> : null}
      <div className="toolbar">
        <Button type="submit" variant="primary" busy={create.isPending}>
          Create token
        </Button>
      </div>
    </form>
  );
}

function RevokeToken({ token, own }: { token: Token; own: boolean }) {
  const revoke = useRevokeToken();
  return (
    <ConfirmAction
      label="Revoke"
      ariaLabel={`Revoke token ${token.name}`}
      variant="danger"
      title={`Revoke token ${token.name}?`}
      confirmLabel="Revoke token"
      action={() => revoke.mutateAsync(token.id)}
      renderError={(error) =>
        isProblem(error, 'last-admin-token') ? (
          <div className="notice notice--warn" role="alert">
            <p>
              <strong>This is the last admin token.</strong> Without an admin token nobody could create or revoke
              tokens any more. Create another ADMIN token first, then revoke this one.
            </p>
          </div>
        ) : (
          <ErrorMessage error={error} title="Could not revoke the token" />
        )
      }
    >
      <p>Anything using this token is refused from now on.</p>
      {own ? <p className="notice notice--warn">This is the token you are signed in with: you will be signed out.</p> : null}
    </ConfirmAction>
  );
}

export function TokensPage() {
  const tokens = useTokens();
  const { session } = useSession();
  const [issued, setIssued] = useState<IssuedToken | null>(null);
  return (
    <div className="page">
      <div className="page-header">
        <h1>API tokens</h1>
        <p className="muted">Who may use the API and the UI, and with which role.</p>
      </div>
      <Card title="New token">
        {issued ? (
          <div className="form-stack" data-testid="issued-token">
            <div className="notice notice--warn" role="status">
              <p>
                Token <strong>{issued.name}</strong> ({issued.role}) was created. <strong>Copy the secret now:</strong>{' '}
                it is shown only this once and cannot be read again.
              </p>
            </div>
            <div className="socket-path">
              <code data-testid="issued-secret">{issued.token}</code>
              <CopyButton text={issued.token} what="token secret" />
            </div>
            <div>
              <Button onClick={() => setIssued(null)}>I have stored it: hide the secret</Button>
            </div>
          </div>
        ) : (
          <CreateToken onIssued={setIssued} />
        )}
      </Card>
      <Card title="Tokens">
        {tokens.isPending ? <p role="status">Loading tokens…</p> : null}
        {tokens.isError ? <ErrorMessage error={tokens.error} title="Could not load tokens" /> : null}
        {tokens.data ? (
          <div className="table-scroll">
            <table className="data-table">
              <caption className="visually-hidden">API tokens</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Role</th>
                  <th scope="col">Prefix</th>
                  <th scope="col">Created</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Last used</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {tokens.data.map((token) => (
                  <tr key={token.id}>
                    <th scope="row">
                      {token.name} {token.id === session?.identity.tokenId ? <Badge tone="info">you</Badge> : null}
                    </th>
                    <td>{token.role}</td>
                    <td className="mono">{token.prefix}…</td>
                    <td>
                      {formatDateTime(token.createdAt)} <span className="muted">by {token.createdBy}</span>
                    </td>
                    <td>{token.expiresAt ? formatDateTime(token.expiresAt) : 'never'}</td>
                    <td>{token.lastUsedAt ? `${formatAge(token.lastUsedAt)} ago` : 'never'}</td>
                    <td>
                      <RevokeToken token={token} own={token.id === session?.identity.tokenId} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </Card>
    </div>
  );
}
