import { useSearchParams } from 'react-router';

import { Card } from '@/components/ui/card';
import { Field } from '@/components/ui/field';

import { type SnapshotKind, type SnapshotState, snapshotStates } from '../api/types';
import { SnapshotsTable } from './snapshots-table';

/** Every snapshot, filtered by state, kind and region; the filter lives in the URL. */
export function SnapshotsPage() {
  const [params, setParams] = useSearchParams();
  const state = (params.get('state') ?? '') as SnapshotState | '';
  const kind = (params.get('kind') ?? '') as SnapshotKind | '';
  const regionId = params.get('regionId') ?? '';
  const page = Math.max(0, Number(params.get('page') ?? 0) || 0);

  function update(next: Record<string, string | number>) {
    const merged = new URLSearchParams(params);
    for (const [key, value] of Object.entries(next)) {
      if (value === '' || value === 0) merged.delete(key);
      else merged.set(key, String(value));
    }
    setParams(merged, { replace: true });
  }

  return (
    <div className="page">
      <div className="page-header">
        <h1>Snapshots</h1>
        <p className="muted">Take one from a region's page; policies take them on a schedule.</p>
      </div>
      <Card title="Catalog">
        <div className="form-stack">
          <div className="form-grid" role="search" aria-label="Filter snapshots">
            <Field label="State">
              {(control) => (
                <select {...control} value={state} onChange={(event) => update({ state: event.target.value, page: 0 })}>
                  <option value="">Any but DELETED</option>
                  {snapshotStates.map((s) => (
                    <option key={s} value={s}>
                      {s}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field label="Kind">
              {(control) => (
                <select {...control} value={kind} onChange={(event) => update({ kind: event.target.value, page: 0 })}>
                  <option value="">Any kind</option>
                  <option value="FULL">FULL</option>
                  <option value="INCREMENTAL">INCREMENTAL</option>
                </select>
              )}
            </Field>
            <Field label="Region id" hint="A full region id; the region page lists its snapshots too.">
              {(control) => (
                <input
                  {...control}
                  className="mono"
                  value={regionId}
                  placeholder="any region"
                  onChange={(event) => update({ regionId: event.target.value.trim(), page: 0 })}
                />
              )}
            </Field>
          </div>
          <SnapshotsTable
            filter={{ states: state ? [state] : [], kind, regionId: /^[0-9a-f-]{36}$/i.test(regionId) ? regionId : '', page, size: 25 }}
            onPage={(next) => update({ page: next })}
          />
        </div>
      </Card>
    </div>
  );
}
