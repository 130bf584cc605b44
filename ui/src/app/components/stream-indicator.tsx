import { useEffect, useState } from 'react';

import { formatTime } from '@/lib/format';

import { useStreamStatus } from '../live-updates';

/** How long "reconnected" stays visible after a loss, so an operator glancing back sees it happened. */
const recoveredNoticeMs = 60_000;

/**
 * The live connection's state in the header: live, lost and retrying (with when it was lost and
 * when the next try is), or back (with when it was lost and reconnected). A change of state is
 * announced to screen readers.
 */
export function StreamIndicator() {
  const status = useStreamStatus();
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);

  let tone: 'ok' | 'warn' | 'danger' | 'neutral' = 'neutral';
  let text: string;
  let detail: string | null = null;
  switch (status.state) {
    case 'connecting':
      text = 'Connecting…';
      break;
    case 'open':
      if (status.recoveredFrom && now - status.since < recoveredNoticeMs) {
        tone = 'warn';
        text = 'Live again';
        detail = `stream lost at ${formatTime(status.recoveredFrom.lostAt)}, reconnected at ${formatTime(status.since)}; missed events were replayed`;
      } else {
        tone = 'ok';
        text = 'Live';
        detail = 'updates arrive as they happen';
      }
      break;
    case 'reconnecting': {
      tone = 'danger';
      const seconds = Math.max(0, Math.ceil((status.retryAt - now) / 1000));
      text = 'Stream lost';
      detail = `since ${formatTime(status.lostAt)} (${status.reason}); ${seconds > 0 ? `retrying in ${seconds} s` : 'retrying now'}, attempt ${status.attempt}. Pages still poll.`;
      break;
    }
    default:
      text = 'Not live';
      detail = status.reason;
  }
  return (
    <div className={`stream-indicator stream-indicator--${tone}`} data-stream-state={status.state}>
      <span className="stream-indicator__dot" aria-hidden="true" />
      {/* Only the state is announced; the countdown beside it changes every second. */}
      <span className="stream-indicator__text" role="status">
        {text}
      </span>
      {detail ? <span className="stream-indicator__detail">{detail}</span> : null}
    </div>
  );
}
