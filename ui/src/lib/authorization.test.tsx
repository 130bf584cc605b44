import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import { Authorized, can } from '@/lib/authorization';
import type { Identity } from '@/lib/identity';
import { SessionProvider } from '@/lib/session';
import { writeStoredSession } from '@/lib/session-storage';
import { adminIdentity, viewerIdentity } from '@/testing/mocks/fixtures';

describe('can', () => {
  it('orders roles VIEWER < OPERATOR < ADMIN', () => {
    expect(can('VIEWER', 'VIEWER')).toBe(true);
    expect(can('VIEWER', 'OPERATOR')).toBe(false);
    expect(can('OPERATOR', 'OPERATOR')).toBe(true);
    expect(can('OPERATOR', 'ADMIN')).toBe(false);
    expect(can('ADMIN', 'VIEWER')).toBe(true);
    expect(can('ADMIN', 'ADMIN')).toBe(true);
  });

  it('allows nothing without a role', () => {
    expect(can(null, 'VIEWER')).toBe(false);
    expect(can(undefined, 'VIEWER')).toBe(false);
  });
});

describe('Authorized', () => {
  function renderAs(identity: Identity) {
    writeStoredSession({ token: 't', identity });
    render(
      <SessionProvider>
        <Authorized required="OPERATOR" fallback={<p>read-only</p>}>
          <button type="button">Take snapshot</button>
        </Authorized>
      </SessionProvider>,
    );
  }

  it('hides actions from a viewer', () => {
    renderAs(viewerIdentity);
    expect(screen.queryByRole('button', { name: 'Take snapshot' })).toBeNull();
    expect(screen.getByText('read-only')).toBeInTheDocument();
  });

  it('shows actions to a role at or above the one required', () => {
    renderAs(adminIdentity);
    expect(screen.getByRole('button', { name: 'Take snapshot' })).toBeInTheDocument();
  });
});
