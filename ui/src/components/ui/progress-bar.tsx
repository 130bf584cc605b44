import { formatPercent } from '@/lib/format';

import './progress-bar.css';

type ProgressBarProps = {
  value: number;
  max: number;
  /** Accessible name, e.g. "Pages present". */
  label: string;
  /** How the values read, e.g. "1,024 of 4,096 pages"; the percentage is added. */
  valueText?: string;
  tone?: 'accent' | 'ok' | 'warn' | 'danger';
};

/** A determinate progress bar whose text does not depend on seeing the bar. */
export function ProgressBar({ value, max, label, valueText, tone = 'accent' }: ProgressBarProps) {
  const fraction = max > 0 ? Math.min(1, Math.max(0, value / max)) : 0;
  const text = `${valueText ? `${valueText} · ` : ''}${formatPercent(fraction)}`;
  return (
    <div className="progress">
      <div
        className={`progress__track progress__track--${tone}`}
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={max}
        aria-valuenow={Math.min(value, max)}
        aria-valuetext={text}
      >
        <div className="progress__fill" style={{ width: `${fraction * 100}%` }} />
      </div>
      <span className="progress__text">{text}</span>
    </div>
  );
}
