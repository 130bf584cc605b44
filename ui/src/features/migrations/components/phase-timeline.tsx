import { formatTime } from '@/lib/format';

import { happyPath, type Migration } from '../api/types';

/**
 * The phases a job goes through, with when it entered each. The current phase is marked; a
 * job that paused, failed or was cancelled shows that beside where it stopped.
 */
export function PhaseTimeline({ job }: { job: Migration }) {
  const entered = new Map(job.timeline.map((step) => [step.phase, step.at]));
  const stoppedIn = job.phase === 'PAUSED' ? job.pausedIn : null;
  const current = stoppedIn ?? (happyPath.includes(job.phase) ? job.phase : [...job.timeline].reverse().find((s) => happyPath.includes(s.phase))?.phase);
  const currentIndex = current ? happyPath.indexOf(current) : -1;
  return (
    <ol className="phase-timeline" aria-label="Migration phases">
      {happyPath.map((phase, index) => {
        const state = index < currentIndex || job.phase === 'COMPLETED' ? 'done' : index === currentIndex ? 'current' : 'todo';
        const at = entered.get(phase);
        return (
          <li key={phase} className={`phase-timeline__step phase-timeline__step--${state}`} aria-current={state === 'current' ? 'step' : undefined}>
            <span className="phase-timeline__name">{phase}</span>
            <span className="phase-timeline__time muted">{at ? formatTime(Date.parse(at)) : state === 'todo' ? '' : '—'}</span>
            {state === 'current' && job.phase !== phase && job.phase !== 'COMPLETED' ? (
              <span className={`phase-timeline__stop phase-timeline__stop--${job.phase}`}>{job.phase}</span>
            ) : null}
          </li>
        );
      })}
    </ol>
  );
}
