import type { ReactNode } from 'react';

import './badge.css';

export type BadgeTone = 'neutral' | 'ok' | 'warn' | 'danger' | 'info' | 'notable';

/** A short status label. The text carries the meaning; the colour only reinforces it. */
export function Badge({
  tone = 'neutral',
  title,
  children,
}: {
  tone?: BadgeTone;
  title?: string;
  children: ReactNode;
}) {
  return (
    <span className={`badge badge--${tone}`} data-tone={tone} title={title}>
      {children}
    </span>
  );
}
