import { useId } from 'react';

import { linePath, niceMax, type Point } from './chart-geometry';

import './line-chart.css';

export type Series = { name: string; points: readonly Point[]; tone: 'accent' | 'warn' | 'notable' | 'ok' };

const width = 320;
const height = 96;

/**
 * A small time-series chart in plain SVG: one or more lines over the same time window, the
 * y scale's top and the latest value of each line in text (the chart is an image; the text is
 * what a screen reader reads).
 */
export function LineChart({
  title,
  series,
  format,
  emptyText = 'Waiting for samples…',
}: {
  title: string;
  series: readonly Series[];
  format: (value: number) => string;
  emptyText?: string;
}) {
  const titleId = useId();
  const values = series.flatMap((s) => s.points.map((p) => p.v)).filter((v): v is number => v !== null);
  const samples = Math.max(0, ...series.map((s) => s.points.length));
  const max = niceMax(Math.max(0, ...values));
  const latest = series.map((s) => {
    const last = [...s.points].reverse().find((p) => p.v !== null);
    return { name: s.name, tone: s.tone, value: last?.v ?? null };
  });
  const waiting = samples < 2 || values.length === 0;
  const summary = latest.map((l) => `${l.name} ${l.value === null ? 'no data' : format(l.value)}`).join(', ');

  return (
    <figure className="line-chart" aria-labelledby={titleId}>
      <figcaption id={titleId} className="line-chart__title">
        {title}
      </figcaption>
      <div className="line-chart__body">
        <span className="line-chart__axis" aria-hidden="true">
          {values.length ? format(max) : ''}
        </span>
        <svg
          className="line-chart__svg"
          viewBox={`0 0 ${width} ${height}`}
          preserveAspectRatio="none"
          role="img"
          aria-label={waiting ? `${title}: ${emptyText}` : `${title}, latest: ${summary}`}
        >
          <line x1="0" y1={height} x2={width} y2={height} className="line-chart__baseline" />
          <line x1="0" y1={height / 2} x2={width} y2={height / 2} className="line-chart__grid" />
          {series.map((s) => (
            <path
              key={s.name}
              d={linePath(s.points, width, height, max)}
              className={`line-chart__line line-chart__line--${s.tone}`}
              data-series={s.name}
              vectorEffect="non-scaling-stroke"
            />
          ))}
        </svg>
      </div>
      <ul className="line-chart__legend">
        {latest.map((l) => (
          <li key={l.name}>
            <span className={`line-chart__swatch line-chart__swatch--${l.tone}`} aria-hidden="true" />
            {l.name}: <strong>{l.value === null ? '—' : format(l.value)}</strong>
          </li>
        ))}
        {waiting ? <li className="muted">{emptyText}</li> : null}
      </ul>
    </figure>
  );
}

/** A one-line trend without axes, for tables and tiles. */
export function Sparkline({ points, label }: { points: readonly Point[]; label: string }) {
  const values = points.map((p) => p.v).filter((v): v is number => v !== null);
  const max = niceMax(Math.max(0, ...values));
  return (
    <svg className="sparkline" viewBox="0 0 100 24" preserveAspectRatio="none" role="img" aria-label={label}>
      <path d={linePath(points, 100, 24, max)} className="line-chart__line line-chart__line--accent" vectorEffect="non-scaling-stroke" />
    </svg>
  );
}
