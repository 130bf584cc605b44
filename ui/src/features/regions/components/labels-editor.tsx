import { type FormEvent, useState } from 'react';

import { Button } from '@/components/ui/button';
import { ErrorMessage } from '@/components/ui/error-message';
import { Field } from '@/components/ui/field';
import { fieldErrorOf, isApiError } from '@/lib/api-client';
import { Authorized } from '@/lib/authorization';
import { formatLabels, parseLabels } from '@/lib/labels';

import type { RegionWithEtag } from '../api/get-region';
import { labelsPatch, useUpdateRegionLabels } from '../api/update-region-labels';
import { LabelsList } from './labels-list';

/**
 * Shows a region's labels and lets an operator change them. The edit is based on the version
 * (ETag) the operator started from: if the region changed meanwhile the service answers 412,
 * nothing is written, and the operator reloads and decides again.
 */
export function LabelsEditor({ region, onReload }: { region: RegionWithEtag; onReload: () => Promise<unknown> }) {
  const [editing, setEditing] = useState<{ etag: string; base: Record<string, string> } | null>(null);
  const [text, setText] = useState('');
  const [formError, setFormError] = useState<string | null>(null);
  const update = useUpdateRegionLabels();

  function start() {
    setEditing({ etag: region.etag ?? '*', base: region.labels });
    setText(formatLabels(region.labels));
    setFormError(null);
    update.reset();
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!editing) return;
    const parsed = parseLabels(text);
    if (parsed.error) {
      setFormError(parsed.error);
      return;
    }
    setFormError(null);
    const patch = labelsPatch(editing.base, parsed.labels);
    if (Object.keys(patch).length === 0) {
      setEditing(null);
      return;
    }
    update.mutate({ id: region.id, etag: editing.etag, labels: patch }, { onSuccess: () => setEditing(null) });
  }

  async function reloadAndRebase() {
    await onReload();
    update.reset();
    setEditing(null);
  }

  const stale = isApiError(update.error) && update.error.status === 412;
  const labelsError = formError ?? fieldErrorOf(update.error, 'labels');

  if (!editing) {
    return (
      <div className="form-stack">
        <LabelsList labels={region.labels} />
        <Authorized required="OPERATOR">
          <div>
            <Button onClick={start} disabled={region.state === 'DETACHED'}>
              Edit labels
            </Button>
          </div>
        </Authorized>
      </div>
    );
  }

  return (
    <form className="form-stack" onSubmit={submit} aria-label="Edit labels">
      <Field
        label="Labels"
        hint="One key=value per line. Removing a line removes the label."
        error={labelsError}
      >
        {(control) => (
          <textarea
            {...control}
            rows={Math.max(3, text.split('\n').length + 1)}
            value={text}
            spellCheck={false}
            onChange={(event) => setText(event.target.value)}
          />
        )}
      </Field>
      {stale ? (
        <div className="notice notice--warn" role="alert">
          <p>
            <strong>This region changed since you started editing</strong> (someone else saved labels,
            or its state changed). Nothing was saved. Reload it to see the current labels, then apply your
            change again.
          </p>
          <p className="muted">Your text: {text.split('\n').filter(Boolean).join(', ') || '(no labels)'}</p>
          <div className="toolbar" style={{ marginTop: '0.5rem' }}>
            <Button variant="primary" onClick={() => void reloadAndRebase()}>
              Reload region
            </Button>
          </div>
        </div>
      ) : update.isError && !labelsError ? (
        <ErrorMessage error={update.error} title="Could not save the labels" />
      ) : null}
      <div className="toolbar">
        <Button type="submit" variant="primary" busy={update.isPending}>
          Save labels
        </Button>
        <Button onClick={() => setEditing(null)}>Cancel</Button>
      </div>
    </form>
  );
}
