import { type FormEvent, useMemo, useState } from 'react';
import { Link, useNavigate } from 'react-router';

import { Button } from '@/components/ui/button';
import { ErrorMessage } from '@/components/ui/error-message';
import { Field } from '@/components/ui/field';
import { paths } from '@/config/paths';
import { fieldErrorOf, isApiError } from '@/lib/api-client';

import { useCreatePolicy } from '../api/create-policy';
import type { PolicyWithEtag } from '../api/get-policy';
import type { PolicyInput, Retention } from '../api/types';
import { useUpdatePolicy } from '../api/update-policy';
import { NextRunsPreview } from './next-runs-preview';

import './policies.css';

const countRules = [
  ['keepLast', 'Keep last', 'The newest N.'],
  ['hourly', 'Hourly', 'Newest of each of the last N hours that have one.'],
  ['daily', 'Daily', 'Per day, in the policy’s zone.'],
  ['weekly', 'Weekly', 'Per ISO week.'],
  ['monthly', 'Monthly', 'Per month.'],
  ['keepVerified', 'Keep verified', 'A floor: the newest N VERIFIED, whatever the rest say.'],
] as const;

type CountRule = (typeof countRules)[number][0];

function zones(): string[] {
  const supported = (Intl as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf?.('timeZone') ?? [];
  return ['UTC', ...supported.filter((zone) => zone !== 'UTC')];
}

function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

const formFields = ['name', 'selector', 'schedule', 'timeZone', 'fullEvery', ...countRules.map((r) => `retention.${r[0]}`), 'retention.maxAge'];

/**
 * Create or edit a snapshot policy. The next five runs are shown beside the schedule while it is
 * typed; saving an edit is guarded by the ETag the form was filled from.
 */
export function PolicyForm({ policy }: { policy?: PolicyWithEtag }) {
  const navigate = useNavigate();
  const create = useCreatePolicy();
  const update = useUpdatePolicy();
  const mutation = policy ? update : create;
  const zoneList = useMemo(zones, []);
  const [name, setName] = useState(policy?.name ?? '');
  const [selector, setSelector] = useState(policy?.selector ?? '');
  const [schedule, setSchedule] = useState(policy?.schedule ?? '0 * * * *');
  const [timeZone, setTimeZone] = useState(policy?.timeZone ?? browserZone());
  const [fullEvery, setFullEvery] = useState(String(policy?.fullEvery ?? 1));
  const [counts, setCounts] = useState<Record<CountRule, string>>(() => {
    const r = policy?.retention;
    return {
      keepLast: String(r?.keepLast ?? 0),
      hourly: String(r?.hourly ?? 0),
      daily: String(r?.daily ?? 0),
      weekly: String(r?.weekly ?? 0),
      monthly: String(r?.monthly ?? 0),
      keepVerified: String(r?.keepVerified ?? 0),
    };
  });
  const [maxAge, setMaxAge] = useState(policy?.retention.maxAge ?? '');
  const [paused, setPaused] = useState(policy?.paused ?? false);
  const [requireQuiesce, setRequireQuiesce] = useState(policy?.requireQuiesce ?? false);
  const [local, setLocal] = useState<Record<string, string>>({});
  const [etag] = useState(policy?.etag ?? '*');

  function submit(event: FormEvent) {
    event.preventDefault();
    const errors: Record<string, string> = {};
    const whole = (text: string, field: string, min: number) => {
      if (!/^\d+$/.test(text.trim()) || Number(text) < min) errors[field] = `Enter a whole number${min > 0 ? ` from ${min}` : ''}.`;
      return Number(text);
    };
    const retention: Retention = {
      keepLast: whole(counts.keepLast, 'retention.keepLast', 0),
      hourly: whole(counts.hourly, 'retention.hourly', 0),
      daily: whole(counts.daily, 'retention.daily', 0),
      weekly: whole(counts.weekly, 'retention.weekly', 0),
      monthly: whole(counts.monthly, 'retention.monthly', 0),
      keepVerified: whole(counts.keepVerified, 'retention.keepVerified', 0),
      maxAge: maxAge.trim() === '' ? null : maxAge.trim(),
    };
    const input: PolicyInput = {
      name: name.trim(),
      selector: selector.trim(),
      schedule: schedule.trim(),
      timeZone: timeZone.trim(),
      fullEvery: whole(fullEvery, 'fullEvery', 1),
      retention,
      paused,
      requireQuiesce,
    };
    setLocal(errors);
    if (Object.keys(errors).length > 0) return;
    if (policy) {
      update.mutate({ id: policy.id, etag, input }, { onSuccess: (saved) => navigate(paths.policy(saved.id)) });
    } else {
      create.mutate(input, { onSuccess: (saved) => navigate(paths.policy(saved.id)) });
    }
  }

  const errorOf = (field: string) => local[field] ?? fieldErrorOf(mutation.error, field);
  const stale = isApiError(mutation.error) && mutation.error.status === 412;
  const explained =
    isApiError(mutation.error) &&
    mutation.error.fieldErrors.length > 0 &&
    mutation.error.fieldErrors.every((e) => formFields.includes(e.field));

  return (
    <form className="form-stack" onSubmit={submit} onChange={() => !stale && mutation.isError && mutation.reset()} noValidate aria-label={policy ? `Edit policy ${policy.name}` : 'New snapshot policy'}>
      <div className="form-grid">
        <Field label="Name" hint="Lower-case letters, digits, '.', '_', '-'." error={errorOf('name')}>
          {(control) => <input {...control} name="name" value={name} onChange={(event) => setName(event.target.value)} />}
        </Field>
        <Field label="Label selector" hint="Regions to snapshot, e.g. app=db,tier in (prod). Empty: every region." error={errorOf('selector')}>
          {(control) => (
            <input {...control} name="selector" className="mono" value={selector} spellCheck={false} onChange={(event) => setSelector(event.target.value)} />
          )}
        </Field>
      </div>
      <div className="policy-form__schedule">
        <div className="form-stack">
          <Field
            label="Schedule (cron)"
            hint="minute hour day-of-month month day-of-week, 6 fields with seconds first, or @hourly, @daily…"
            error={errorOf('schedule')}
          >
            {(control) => (
              <input {...control} name="schedule" className="mono" value={schedule} spellCheck={false} onChange={(event) => setSchedule(event.target.value)} />
            )}
          </Field>
          <Field label="Time zone" hint="IANA name; the schedule and the period rules are read in it." error={errorOf('timeZone')}>
            {(control) => (
              <>
                <input {...control} name="timeZone" list="time-zones" value={timeZone} onChange={(event) => setTimeZone(event.target.value)} />
                <datalist id="time-zones">
                  {zoneList.map((zone) => (
                    <option key={zone} value={zone} />
                  ))}
                </datalist>
              </>
            )}
          </Field>
        </div>
        <NextRunsPreview schedule={schedule} timeZone={timeZone} />
      </div>
      <fieldset>
        <legend>Retention</legend>
        <p className="muted" style={{ margin: '0 0 0.6rem' }}>
          0 turns a rule off. Without any count rule every snapshot is kept (then max age applies).
        </p>
        <div className="retention-grid">
          {countRules.map(([key, label, hint]) => (
            <Field key={key} label={label} hint={hint} error={errorOf(`retention.${key}`)}>
              {(control) => (
                <input
                  {...control}
                  name={key}
                  inputMode="numeric"
                  value={counts[key]}
                  onChange={(event) => setCounts((before) => ({ ...before, [key]: event.target.value }))}
                />
              )}
            </Field>
          ))}
          <Field label="Max age" hint="e.g. P30D, 12h. Empty: no limit." error={errorOf('retention.maxAge')}>
            {(control) => <input {...control} name="maxAge" className="mono" value={maxAge} onChange={(event) => setMaxAge(event.target.value)} />}
          </Field>
        </div>
      </fieldset>
      <div className="form-grid">
        <Field label="Full snapshot every" hint="Every Nth snapshot of a region is FULL, the others INCREMENTAL." error={errorOf('fullEvery')}>
          {(control) => <input {...control} name="fullEvery" inputMode="numeric" value={fullEvery} onChange={(event) => setFullEvery(event.target.value)} />}
        </Field>
        <div className="form-stack">
          <label className="checkbox-row">
            <input type="checkbox" checked={paused} onChange={(event) => setPaused(event.target.checked)} /> Paused (neither runs nor prunes)
          </label>
          <label className="checkbox-row">
            <input type="checkbox" checked={requireQuiesce} onChange={(event) => setRequireQuiesce(event.target.checked)} /> Require quiesce
            (a snapshot not quiesced counts as failed)
          </label>
        </div>
      </div>
      {stale ? (
        <div className="notice notice--warn" role="alert">
          <p>
            <strong>Someone changed this policy since you opened the form.</strong> Nothing was saved. Open the
            policy again to see the current version, then make your change again.
          </p>
          {policy ? (
            <p>
              <Link to={paths.policy(policy.id)}>Open the current version of the policy</Link>
            </p>
          ) : null}
        </div>
      ) : mutation.isError && !explained ? (
        <ErrorMessage error={mutation.error} title="Could not save the policy" />
      ) : null}
      <div className="toolbar">
        <Button type="submit" variant="primary" busy={mutation.isPending}>
          {policy ? 'Save policy' : 'Create policy'}
        </Button>
        <Button onClick={() => navigate(policy ? paths.policy(policy.id) : paths.policies)}>Cancel</Button>
      </div>
    </form>
  );
}
