import type { Role } from '@/lib/identity';

export type Token = {
  id: string;
  name: string;
  role: Role;
  /** The secret's first characters, to tell tokens apart. */
  prefix: string;
  createdAt: string;
  createdBy: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
};

/** A token just created: the only time its secret is shown. */
export type IssuedToken = Omit<Token, 'lastUsedAt'> & { token: string };

export const tokenKeys = { all: ['tokens'] as const };
