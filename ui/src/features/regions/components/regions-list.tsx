import { type FormEvent, useState } from 'react';
import { Link, useSearchParams } from 'react-router';

import { Button } from '@/components/ui/button';
import { Card } from '@/components/ui/card';
import { ErrorMessage } from '@/components/ui/error-message';
import { Field } from '@/components/ui/field';
import { Pagination } from '@/components/ui/pagination';
import { ProgressBar } from '@/components/ui/progress-bar';
import { paths } from '@/config/paths';
import { fieldErrorOf, onlyFieldErrors } from '@/lib/api-client';
import { formatAge, formatBytes, formatCount } from '@/lib/format';

import { useRegions } from '../api/get-regions';
import { type RegionState, regionStates, totalFaults } from '../api/types';
import { LabelsList } from './labels-list';
import { RegionStateBadge } from './region-state-badge';

import './regions.css';

const pageSize = 25;

/**
 * Every region, newest first, filtered by a label selector and a state. The filter lives in the
 * URL, so a filtered view can be bookmarked and survives a reload.
 */
export function RegionsList() {
  const [params, setParams] = useSearchParams();
  const selector = params.get('selector') ?? '';
  const state = (params.get('state') ?? '') as RegionState | '';
  const page = Math.max(0, Number(params.get('page') ?? 0) || 0);
  const [draft, setDraft] = useState(selector);
  const regions = useRegions({ selector, state, page, size: pageSize });

  function update(next: { selector?: string; state?: string; page?: number }) {
    const merged = new URLSearchParams(params);
    for (const [key, value] of Object.entries(next)) {
      if (value === '' || value === undefined || value === 0) merged.delete(key);
      else merged.set(key, String(value));
    }
    setParams(merged, { replace: true });
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    update({ selector: draft.trim(), page: 0 });
  }

  const selectorError = fieldErrorOf(regions.error, 'selector');

  return (
    <Card title="Regions" aside={regions.isFetching ? <span className="muted">updating…</span> : null}>
      <div className="form-stack">
        <form className="regions-filter" onSubmit={submit} role="search" aria-label="Filter regions">
          <Field
            label="Label selector"
            hint="e.g. app=db,tier in (prod,staging),!canary"
            error={selectorError}
          >
            {(control) => (
              <input
                {...control}
                name="selector"
                className="mono"
                value={draft}
                spellCheck={false}
                autoComplete="off"
                onChange={(event) => setDraft(event.target.value)}
              />
            )}
          </Field>
          <Field label="State">
            {(control) => (
              <select {...control} value={state} onChange={(event) => update({ state: event.target.value, page: 0 })}>
                <option value="">Any state</option>
                {regionStates.map((s) => (
                  <option key={s} value={s}>
                    {s}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Button type="submit" variant="primary">
            Apply filter
          </Button>
        </form>

        {regions.isError && !onlyFieldErrors(regions.error, ['selector']) ? (
          <ErrorMessage error={regions.error} title="Could not load regions" />
        ) : null}

        {regions.isPending ? <p role="status">Loading regions…</p> : null}

        {regions.data && !selectorError ? (
          regions.data.items.length === 0 ? (
            <p className="empty">
              {selector || state
                ? 'No region matches this filter.'
                : 'No regions yet. A region appears when a workload hands its memory to the agent (see Restores).'}
            </p>
          ) : (
            <>
              <div className="table-scroll">
                <table className="data-table">
                  <caption className="visually-hidden">Regions</caption>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">State</th>
                      <th scope="col">Labels</th>
                      <th scope="col" className="num">Size</th>
                      <th scope="col">Present</th>
                      <th scope="col" className="num">Faults</th>
                      <th scope="col">Attached</th>
                    </tr>
                  </thead>
                  <tbody>
                    {regions.data.items.map((region) => (
                      <tr key={region.id}>
                        <th scope="row">
                          <Link to={paths.region(region.id)}>{region.name}</Link>
                          <div className="muted mono" style={{ fontSize: '0.78rem' }}>
                            {region.id.slice(0, 8)} · {region.node}
                          </div>
                        </th>
                        <td>
                          <RegionStateBadge state={region.state} />
                        </td>
                        <td>
                          <LabelsList labels={region.labels} />
                        </td>
                        <td className="num">{formatBytes(region.length)}</td>
                        <td>
                          {region.pages ? (
                            <ProgressBar
                              label={`Pages present in ${region.name}`}
                              value={region.pages.present}
                              max={region.pages.total}
                            />
                          ) : (
                            <span className="muted">—</span>
                          )}
                        </td>
                        <td className="num">{region.stats ? formatCount(totalFaults(region.stats)) : '—'}</td>
                        <td>{region.attachedAt ? `${formatAge(region.attachedAt)} ago` : '—'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <Pagination
                page={regions.data.page}
                totalPages={regions.data.totalPages}
                totalItems={regions.data.totalItems}
                noun="regions"
                onPage={(next) => update({ page: next })}
              />
            </>
          )
        ) : null}
      </div>
    </Card>
  );
}
