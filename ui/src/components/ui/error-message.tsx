import type { ReactNode } from 'react';

import { isApiError } from '@/lib/api-client';

import './error-message.css';

type ErrorMessageProps = {
  error: unknown;
  /** Replaces the error's own title, e.g. "Could not sign in". */
  title?: string;
  /** Extra context or a retry button shown under the message. */
  children?: ReactNode;
};

/**
 * Shows what went wrong in words a person can act on: the problem's title and detail, any
 * field errors, and the HTTP status for reference. Announced to screen readers when it appears.
 */
export function ErrorMessage({ error, title, children }: ErrorMessageProps) {
  let heading = title ?? 'Something went wrong';
  let detail: string | null = null;
  let status: number | null = null;
  let fieldErrors: readonly { field: string; message: string }[] = [];

  if (isApiError(error)) {
    heading = title ?? error.title;
    detail = error.detail ?? (title ? error.title : null);
    status = error.status || null;
    fieldErrors = error.fieldErrors;
  } else if (error instanceof Error) {
    detail = error.message;
  } else if (typeof error === 'string') {
    detail = error;
  }

  return (
    <div className="error-message" role="alert">
      <p className="error-message__title">
        {heading}
        {status ? <span className="error-message__status"> (HTTP {status})</span> : null}
      </p>
      {detail ? <p className="error-message__detail">{detail}</p> : null}
      {fieldErrors.length > 0 ? (
        <ul className="error-message__fields">
          {fieldErrors.map((fieldError, index) => (
            <li key={`${fieldError.field}-${index}`}>
              {fieldError.field ? <code>{fieldError.field}</code> : null} {fieldError.message}
            </li>
          ))}
        </ul>
      ) : null}
      {children}
    </div>
  );
}
