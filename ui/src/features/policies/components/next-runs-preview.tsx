import { useMemo } from 'react';

import { CronError, isTimeZone, nextRuns, parseCron } from '../utils/cron';

export function formatInZone(instant: number | string, zone: string): string {
  return new Intl.DateTimeFormat(undefined, {
    timeZone: zone,
    weekday: 'short',
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    timeZoneName: 'short',
  }).format(new Date(instant));
}

const utc = new Intl.DateTimeFormat(undefined, { timeZone: 'UTC', dateStyle: 'medium', timeStyle: 'short' });

/**
 * The next five fire times of a schedule in a zone, computed in the browser as the operator
 * types, so they see when the policy will run before saving it.
 */
export function NextRunsPreview({ schedule, timeZone, now = Date.now() }: { schedule: string; timeZone: string; now?: number }) {
  const result = useMemo(() => {
    if (!schedule.trim()) return { error: 'Enter a schedule to see when it runs.' };
    if (!isTimeZone(timeZone)) return { error: `"${timeZone}" is not a time zone this browser knows (use an IANA name such as Europe/Berlin).` };
    try {
      return { runs: nextRuns(parseCron(schedule), timeZone, now, 5) };
    } catch (error) {
      if (error instanceof CronError) return { error: `The schedule ${error.message}.` };
      throw error;
    }
  }, [schedule, timeZone, now]);

  return (
    <div className="next-runs" aria-live="polite">
      <p className="next-runs__title">Next runs in {timeZone || '—'}</p>
      {'error' in result ? (
        <p className="muted">{result.error}</p>
      ) : result.runs.length === 0 ? (
        <p className="muted">This schedule never fires in the next years.</p>
      ) : (
        <ol aria-label="Next runs">
          {result.runs.map((run) => (
            <li key={run}>
              <time dateTime={new Date(run).toISOString()}>{formatInZone(run, timeZone)}</time>{' '}
              <span className="muted">({utc.format(new Date(run))} UTC)</span>
            </li>
          ))}
        </ol>
      )}
      <p className="muted next-runs__note">Computed in your browser; the service checks the schedule when you save.</p>
    </div>
  );
}
