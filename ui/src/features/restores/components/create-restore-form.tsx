import { type FormEvent, useState } from 'react';

import { Button } from '@/components/ui/button';
import { ErrorMessage } from '@/components/ui/error-message';
import { Field } from '@/components/ui/field';
import { fieldErrorOf, isApiError } from '@/lib/api-client';
import { parseLabels } from '@/lib/labels';

import { type CreateRestoreInput, restoreDefaults, useCreateRestore } from '../api/create-restore';
import type { RestoreSession } from '../api/types';

const formFields = ['image', 'name', 'labels', 'faultAroundPages', 'populateDelayMs', 'workingSet', 'mode'];

/** Opens a lazy-restore session for an image; hands the created session to `onCreated`. */
export function CreateRestoreForm({ onCreated }: { onCreated: (session: RestoreSession) => void }) {
  const create = useCreateRestore();
  const [image, setImage] = useState('');
  const [name, setName] = useState('');
  const [labels, setLabels] = useState('');
  const [faultAround, setFaultAround] = useState(String(restoreDefaults.faultAroundPages));
  const [populateDelay, setPopulateDelay] = useState(String(restoreDefaults.populateDelayMs));
  const [workingSet, setWorkingSet] = useState<CreateRestoreInput['workingSet']>(restoreDefaults.workingSet);
  const [mode, setMode] = useState<CreateRestoreInput['mode']>(restoreDefaults.mode);
  const [local, setLocal] = useState<Record<string, string>>({});

  function submit(event: FormEvent) {
    event.preventDefault();
    const errors: Record<string, string> = {};
    if (!image.trim()) errors.image = 'Enter the absolute path of the image.';
    if (!name.trim()) errors.name = 'Enter a name for the region.';
    const parsed = parseLabels(labels);
    if (parsed.error) errors.labels = parsed.error;
    if (!/^\d+$/.test(faultAround.trim())) errors.faultAroundPages = 'Enter a whole number of pages (0–512).';
    if (!/^-?\d+$/.test(populateDelay.trim())) errors.populateDelayMs = 'Enter milliseconds, or -1 for never.';
    setLocal(errors);
    if (Object.keys(errors).length > 0) return;
    create.mutate(
      {
        image: image.trim(),
        name: name.trim(),
        labels: parsed.labels,
        faultAroundPages: Number(faultAround),
        populateDelayMs: Number(populateDelay),
        workingSet,
        mode,
      },
      { onSuccess: onCreated },
    );
  }

  // image-not-allowed and "does not exist" are about the image path: show them there.
  const imageProblem =
    isApiError(create.error) && create.error.status === 422 && /image/i.test(create.error.detail ?? '')
      ? create.error.detail
      : null;
  const errorOf = (field: string) => local[field] ?? fieldErrorOf(create.error, field);
  const explained =
    imageProblem !== null ||
    (isApiError(create.error) &&
      create.error.fieldErrors.length > 0 &&
      create.error.fieldErrors.every((e) => formFields.includes(e.field)));

  return (
    <form className="form-stack" onSubmit={submit} onChange={() => create.isError && create.reset()} noValidate aria-label="New restore session">
      <div className="form-grid">
        <Field
          label="Image path"
          hint="Absolute path inside an allowed image directory (faultline.agent.image-dirs)."
          error={errorOf('image') ?? imageProblem}
        >
          {(control) => (
            <input
              {...control}
              name="image"
              className="mono"
              placeholder="/var/lib/faultline/images/vm.img"
              value={image}
              onChange={(event) => setImage(event.target.value)}
            />
          )}
        </Field>
        <Field label="Name" hint="The region's name: letters, digits, '.', '_', '-'." error={errorOf('name')}>
          {(control) => <input {...control} name="name" value={name} onChange={(event) => setName(event.target.value)} />}
        </Field>
        <Field label="Labels" hint="key=value, separated by commas." error={errorOf('labels')}>
          {(control) => (
            <input
              {...control}
              name="labels"
              className="mono"
              placeholder="app=vm, tier=gold"
              value={labels}
              onChange={(event) => setLabels(event.target.value)}
            />
          )}
        </Field>
      </div>
      <fieldset>
        <legend>Options</legend>
        <div className="form-grid">
          <Field
            label="Fault-around pages"
            hint="Pages installed with each faulting page (0–512). Default 16."
            error={errorOf('faultAroundPages')}
          >
            {(control) => (
              <input
                {...control}
                name="faultAroundPages"
                inputMode="numeric"
                value={faultAround}
                onChange={(event) => setFaultAround(event.target.value)}
              />
            )}
          </Field>
          <Field
            label="Background populate delay (ms)"
            hint="When the background populator starts filling the rest; -1: never. Default 1000."
            error={errorOf('populateDelayMs')}
          >
            {(control) => (
              <input
                {...control}
                name="populateDelayMs"
                inputMode="numeric"
                value={populateDelay}
                onChange={(event) => setPopulateDelay(event.target.value)}
              />
            )}
          </Field>
          <Field
            label="Working set"
            hint="auto: replay the recorded order of first touches if there is one, else record it."
            error={errorOf('workingSet')}
          >
            {(control) => (
              <select
                {...control}
                name="workingSet"
                value={workingSet}
                onChange={(event) => setWorkingSet(event.target.value as CreateRestoreInput['workingSet'])}
              >
                <option value="auto">auto</option>
                <option value="record">record</option>
                <option value="replay">replay</option>
                <option value="off">off</option>
              </select>
            )}
          </Field>
          <Field
            label="Mode"
            hint="copy: every page is copied into the workload. clone: one shared copy of the image in memory for every workload of this image; each copies only the pages it writes."
            error={errorOf('mode')}
          >
            {(control) => (
              <select
                {...control}
                name="mode"
                value={mode}
                onChange={(event) => setMode(event.target.value as CreateRestoreInput['mode'])}
              >
                <option value="copy">copy</option>
                <option value="clone">clone</option>
              </select>
            )}
          </Field>
        </div>
      </fieldset>
      {create.isError && !explained ? <ErrorMessage error={create.error} title="Could not open the restore session" /> : null}
      <div className="toolbar">
        <Button type="submit" variant="primary" busy={create.isPending}>
          Open restore session
        </Button>
      </div>
    </form>
  );
}
