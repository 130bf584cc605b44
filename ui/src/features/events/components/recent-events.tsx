import { Link } from 'react-router';

import { Card } from '@/components/ui/card';
import { ErrorMessage } from '@/components/ui/error-message';
import { formatTime } from '@/lib/format';

import { useRecentEvents } from '../api/get-events';

import './events.css';

const tone = (kind: string) => (/failed|down|error/.test(kind) ? 'danger' : /complete|attached|ready/.test(kind) ? 'ok' : 'neutral');

/** The newest events, kept current by the event stream (no polling, no reload). */
export function RecentEvents({ linkTo }: { linkTo?: (subjectType: string, subjectId: string) => string | null }) {
  const events = useRecentEvents();
  return (
    <Card title="Recent events" aside={<span className="muted">live</span>}>
      {events.isPending ? <p role="status">Loading events…</p> : null}
      {events.isError ? <ErrorMessage error={events.error} title="Could not load events" /> : null}
      {events.data?.length === 0 ? <p className="empty">Nothing has happened yet.</p> : null}
      {events.data && events.data.length > 0 ? (
        <ol className="event-list" aria-label="Recent events, newest first">
          {events.data.slice(0, 15).map((event) => {
            const href = linkTo?.(event.subjectType, event.subjectId) ?? null;
            return (
              <li key={event.id} data-kind={event.kind} className={`event-list__item event-list__item--${tone(event.kind)}`}>
                <time dateTime={event.occurredAt} className="muted">
                  {formatTime(Date.parse(event.occurredAt))}
                </time>
                <code className="event-list__kind">{event.kind}</code>
                <span>{href ? <Link to={href}>{event.message}</Link> : event.message}</span>
              </li>
            );
          })}
        </ol>
      ) : null}
    </Card>
  );
}
