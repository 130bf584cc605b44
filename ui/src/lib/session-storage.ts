import { type Identity, isIdentity } from '@/lib/identity';

// sessionStorage, not localStorage: a token lives only as long as the browser tab, and is
// never written anywhere that outlives it.
const tokenKey = 'faultline.token';
const identityKey = 'faultline.identity';

export type StoredSession = { token: string; identity: Identity };

// Storage can throw (disabled storage, private modes); then the session is simply in-memory.
function storage(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

export function readStoredToken(): string | null {
  try {
    return storage()?.getItem(tokenKey) || null;
  } catch {
    return null;
  }
}

export function readStoredSession(): StoredSession | null {
  try {
    const token = readStoredToken();
    const identity: unknown = JSON.parse(storage()?.getItem(identityKey) ?? 'null');
    return token && isIdentity(identity) ? { token, identity } : null;
  } catch {
    return null;
  }
}

export function writeStoredSession(session: StoredSession): void {
  try {
    storage()?.setItem(tokenKey, session.token);
    storage()?.setItem(identityKey, JSON.stringify(session.identity));
  } catch {
    // Keep going without persistence; the in-memory session still works for this page.
  }
}

export function clearStoredSession(): void {
  try {
    storage()?.removeItem(tokenKey);
    storage()?.removeItem(identityKey);
  } catch {
    // Nothing stored, nothing to clear.
  }
}
