import { type ReactNode, useState } from 'react';

import { Button } from './button';
import { Dialog } from './dialog';
import { ErrorMessage } from './error-message';

type ConfirmActionProps = {
  /** Text of the button that opens the dialog. */
  label: string;
  variant?: 'primary' | 'secondary' | 'danger' | 'ghost';
  disabled?: boolean;
  title: ReactNode;
  /** What will happen, in the operator's terms. */
  children: ReactNode;
  confirmLabel: string;
  /** Runs on confirm; the dialog closes when it resolves and shows the error when it rejects. */
  action: () => Promise<unknown>;
  /** Words for a refusal, e.g. the dependency rule behind a 409; defaults to the problem itself. */
  renderError?: (error: unknown, retry: (action: () => Promise<unknown>, label: string) => void) => ReactNode;
  /** Accessible name of the opening button when the label alone is ambiguous in a list. */
  ariaLabel?: string;
};

/**
 * A button that asks before it acts. The dialog stays open while the request runs and shows
 * the service's answer if it refuses, so the operator reads why right where they acted.
 */
export function ConfirmAction({
  label,
  variant = 'secondary',
  disabled,
  title,
  children,
  confirmLabel,
  action,
  renderError,
  ariaLabel,
}: ConfirmActionProps) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  function close() {
    if (busy) return;
    setOpen(false);
    setError(null);
  }

  async function run(what: () => Promise<unknown>) {
    setBusy(true);
    setError(null);
    try {
      await what();
      setOpen(false);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <Button variant={variant} disabled={disabled} onClick={() => setOpen(true)} aria-label={ariaLabel}>
        {label}
      </Button>
      <Dialog
        open={open}
        title={title}
        onClose={close}
        initialFocus="[data-dialog-cancel]"
        footer={
          <>
            <Button data-dialog-cancel onClick={close} disabled={busy}>
              Cancel
            </Button>
            <Button
              variant={variant === 'danger' ? 'danger' : 'primary'}
              busy={busy}
              onClick={() => void run(action)}
            >
              {busy ? 'Working…' : confirmLabel}
            </Button>
          </>
        }
      >
        {children}
        {error !== null ? (
          renderError ? (
            renderError(error, (other) => void run(other))
          ) : (
            <ErrorMessage error={error} title={`Could not ${confirmLabel.toLowerCase()}`} />
          )
        ) : null}
      </Dialog>
    </>
  );
}
