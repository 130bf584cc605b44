import { type ReactNode, useId } from 'react';

import './card.css';

type CardProps = {
  title: ReactNode;
  /** Heading level of the title, to keep the page outline right where cards nest. */
  level?: 2 | 3;
  /** Controls or status shown at the right of the title. */
  aside?: ReactNode;
  className?: string;
  children: ReactNode;
};

/** A titled section; screen readers announce it as a region named by its title. */
export function Card({ title, level = 2, aside, className, children }: CardProps) {
  const headingId = useId();
  const Heading = level === 2 ? 'h2' : 'h3';
  return (
    <section className={['card', className].filter(Boolean).join(' ')} aria-labelledby={headingId}>
      <div className="card__header">
        <Heading id={headingId} className="card__title">
          {title}
        </Heading>
        {aside ? <div className="card__aside">{aside}</div> : null}
      </div>
      <div className="card__body">{children}</div>
    </section>
  );
}
