import { type FormEvent, useState } from 'react';
import { useNavigate } from 'react-router';

import { Button } from '@/components/ui/button';
import { ErrorMessage } from '@/components/ui/error-message';
import { Field } from '@/components/ui/field';
import { paths } from '@/config/paths';
import { fieldErrorOf, isProblem } from '@/lib/api-client';

import { useStartMigration } from '../api/start-migration';
import { migrationDefaults, type MigrationOptions } from '../api/types';

/** @property node the node that holds the region now (its agent is the migration's source) */
export type RegionChoice = { id: string; name: string; node?: string };
export type NodeChoice = { name: string; local: boolean; state: string };

const numberFields = [
  ['maxDowntimeMs', 'Max downtime (ms)', 'Switch over once the rest fits in this pause.'],
  ['bandwidthLimitBytesPerSec', 'Bandwidth limit (bytes/s)', '0: unlimited.'],
  ['maxPrecopyRounds', 'Max precopy rounds', 'Switch over after this many rounds at most.'],
  ['postcopyAfterMs', 'Postcopy after (ms)', 'auto: switch over after this long at most.'],
  ['pushConnections', 'Push connections', '1 to 8 TCP connections carry the pages pushed; demand requests keep their own.'],
] as const;

/** The agent's bounds where a field has them; the service checks the others (and these again). */
const numberBounds: Partial<Record<(typeof numberFields)[number][0], readonly [number, number]>> = { pushConnections: [1, 8] };

/** Starts a migration of one region to another node, with the contract's defaults pre-filled. */
export function StartMigrationForm({ regions, nodes, regionId }: { regions: RegionChoice[]; nodes: NodeChoice[]; regionId?: string }) {
  const start = useStartMigration();
  const navigate = useNavigate();
  const [picked, setRegion] = useState(regionId ?? '');
  // The regions may arrive after the first render: until one is picked, the first is.
  const region = regions.some((r) => r.id === picked) ? picked : (regions[0]?.id ?? picked);
  // Any node but the region's own: one service instance may manage several nodes.
  const sourceNode = regions.find((r) => r.id === region)?.node;
  const destinations = sourceNode ? nodes.filter((node) => node.name !== sourceNode) : nodes.filter((node) => !node.local);
  const [chosen, setDestination] = useState('');
  const destination = destinations.some((n) => n.name === chosen)
    ? chosen
    : (destinations.find((n) => n.state === 'UP')?.name ?? destinations[0]?.name ?? '');
  const [options, setOptions] = useState<Record<keyof MigrationOptions, string>>({
    maxDowntimeMs: String(migrationDefaults.maxDowntimeMs),
    bandwidthLimitBytesPerSec: String(migrationDefaults.bandwidthLimitBytesPerSec),
    maxPrecopyRounds: String(migrationDefaults.maxPrecopyRounds),
    postcopy: migrationDefaults.postcopy,
    postcopyAfterMs: String(migrationDefaults.postcopyAfterMs),
    compress: migrationDefaults.compress,
    autoConverge: String(migrationDefaults.autoConverge),
    skipUnchanged: String(migrationDefaults.skipUnchanged),
    pushConnections: String(migrationDefaults.pushConnections),
  });
  const [local, setLocal] = useState<Record<string, string>>({});

  function submit(event: FormEvent) {
    event.preventDefault();
    const errors: Record<string, string> = {};
    if (!region) errors.regionId = 'Pick a region.';
    if (!destination) errors.destinationNode = 'Pick a destination node.';
    for (const [key] of numberFields) {
      const text = options[key].trim();
      const bounds = numberBounds[key];
      if (!/^\d+$/.test(text) || (bounds && (Number(text) < bounds[0] || Number(text) > bounds[1])))
        errors[key] = bounds ? `Enter a whole number from ${bounds[0]} to ${bounds[1]}.` : 'Enter a whole number.';
    }
    setLocal(errors);
    if (Object.keys(errors).length) return;
    start.mutate(
      {
        regionId: region,
        destinationNode: destination,
        options: {
          maxDowntimeMs: Number(options.maxDowntimeMs),
          bandwidthLimitBytesPerSec: Number(options.bandwidthLimitBytesPerSec),
          maxPrecopyRounds: Number(options.maxPrecopyRounds),
          postcopy: options.postcopy as MigrationOptions['postcopy'],
          postcopyAfterMs: Number(options.postcopyAfterMs),
          compress: options.compress as MigrationOptions['compress'],
          autoConverge: options.autoConverge === 'true',
          skipUnchanged: options.skipUnchanged === 'true',
          pushConnections: Number(options.pushConnections),
        },
      },
      { onSuccess: (job) => navigate(paths.migration(job.id)) },
    );
  }

  const errorOf = (field: string) => local[field] ?? fieldErrorOf(start.error, field) ?? fieldErrorOf(start.error, `options.${field}`);

  if (destinations.length === 0) {
    return <p className="empty">There is no other node to migrate to. Nodes appear here once a second agent joins (another service instance, or another node of this one).</p>;
  }
  return (
    <form className="form-stack" onSubmit={submit} noValidate aria-label="Start a migration">
      <div className="form-grid">
        <Field label="Region" error={errorOf('regionId')}>
          {(control) => (
            <select {...control} value={region} onChange={(event) => setRegion(event.target.value)}>
              {regions.length === 0 ? <option value="">No attached region</option> : null}
              {regions.map((r) => (
                <option key={r.id} value={r.id}>
                  {r.name} ({r.id.slice(0, 8)})
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Destination node" error={errorOf('destinationNode')}>
          {(control) => (
            <select {...control} value={destination} onChange={(event) => setDestination(event.target.value)}>
              {destinations.map((n) => (
                <option key={n.name} value={n.name} disabled={n.state !== 'UP'}>
                  {n.name}
                  {n.state !== 'UP' ? ` (${n.state})` : ''}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>
      <fieldset>
        <legend>Options</legend>
        <div className="form-grid">
          {numberFields.map(([key, label, hint]) => (
            <Field key={key} label={label} hint={hint} error={errorOf(key)}>
              {(control) => (
                <input {...control} inputMode="numeric" value={options[key]} onChange={(event) => setOptions((o) => ({ ...o, [key]: event.target.value }))} />
              )}
            </Field>
          ))}
          <Field label="Postcopy" hint="auto: when the dirty set converges or a limit is hit; manual: only on “Start postcopy”.">
            {(control) => (
              <select {...control} value={options.postcopy} onChange={(event) => setOptions((o) => ({ ...o, postcopy: event.target.value }))}>
                <option value="auto">auto</option>
                <option value="manual">manual</option>
              </select>
            )}
          </Field>
          <Field label="Page compression" hint="zstd: pays on links slower than the compressor; memory that does not compress is sent as it is." error={errorOf('compress')}>
            {(control) => (
              <select {...control} value={options.compress} onChange={(event) => setOptions((o) => ({ ...o, compress: event.target.value }))}>
                <option value="none">none</option>
                <option value="zstd">zstd</option>
              </select>
            )}
          </Field>
          <Field
            label="Auto-converge"
            hint="With postcopy auto: while precopy rounds do not converge, stop the workload for a growing share of every 100 ms (20%, then 10% more per round, at most 99%)."
            error={errorOf('autoConverge')}
          >
            {(control) => (
              <input
                {...control}
                type="checkbox"
                checked={options.autoConverge === 'true'}
                onChange={(event) => setOptions((o) => ({ ...o, autoConverge: String(event.target.checked) }))}
              />
            )}
          </Field>
          <Field
            label="Skip unchanged pages"
            hint="Do not resend a written page whose bytes are those last sent: compared by a fast fingerprint, not a collision-resistant one; untick to send every written page again."
            error={errorOf('skipUnchanged')}
          >
            {(control) => (
              <input
                {...control}
                type="checkbox"
                checked={options.skipUnchanged === 'true'}
                onChange={(event) => setOptions((o) => ({ ...o, skipUnchanged: String(event.target.checked) }))}
              />
            )}
          </Field>
        </div>
      </fieldset>
      {start.isError && isProblem(start.error, 'migration-in-progress') ? (
        <div className="notice notice--warn" role="alert">
          <p>
            <strong>This region is already being migrated.</strong> One migration per region runs at a time. {start.error.detail}
          </p>
        </div>
      ) : start.isError ? (
        <ErrorMessage error={start.error} title="Could not start the migration" />
      ) : null}
      <div className="toolbar">
        <Button type="submit" variant="primary" busy={start.isPending} disabled={regions.length === 0}>
          Start migration
        </Button>
      </div>
    </form>
  );
}
