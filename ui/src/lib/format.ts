import type { LatencySummary } from '@/lib/api-types';

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const time = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

function parse(iso: string): Date | null {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** A timestamp in the reader's locale and time zone; the input as is if it does not parse. */
export function formatDateTime(iso: string): string {
  const date = parse(iso);
  return date ? dateTime.format(date) : iso;
}

export function formatTime(epochMs: number): string {
  return time.format(new Date(epochMs));
}

/** How long ago `iso` was, coarsely: "45 s", "12 min", "3 h 5 min", "2 d 4 h". */
export function formatAge(iso: string, now: number = Date.now()): string | null {
  const date = parse(iso);
  if (!date) return null;
  const seconds = Math.max(0, Math.floor((now - date.getTime()) / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

const binaryUnits = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** Bytes in binary units, e.g. 268435456 → "256 MiB", 1536 → "1.5 KiB". */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '—';
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1024 && unit < binaryUnits.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 || Number.isInteger(value) ? 0 : value >= 10 ? 1 : 2;
  const text = Number(value.toFixed(digits)).toString();
  return `${bytes < 0 ? '-' : ''}${text} ${binaryUnits[unit]}`;
}

/** An address or length in hex, as the kernel and /proc/pid/maps print them: 0x7f3a00000000. */
export function formatHex(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return `0x${Math.trunc(value).toString(16)}`;
}

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

export function formatCount(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '—' : integer.format(value);
}

/** A rate per second: whole numbers from 10 up, one decimal below. */
export function formatRate(perSecond: number | null | undefined, unit = '/s'): string {
  if (perSecond === null || perSecond === undefined || !Number.isFinite(perSecond)) return '—';
  return `${perSecond >= 10 ? integer.format(perSecond) : decimal.format(perSecond)}${unit}`;
}

/** A duration in nanoseconds in the unit that reads best: "850 ns", "12.4 µs", "3.2 ms", "1.5 s". */
export function formatNanos(ns: number | null | undefined): string {
  if (ns === null || ns === undefined || !Number.isFinite(ns)) return '—';
  if (ns < 1_000) return `${Math.round(ns)} ns`;
  if (ns < 1_000_000) return `${decimal.format(ns / 1_000)} µs`;
  if (ns < 1_000_000_000) return `${decimal.format(ns / 1_000_000)} ms`;
  return `${decimal.format(ns / 1_000_000_000)} s`;
}

/**
 * A LatencySummary the one way every page shows it: the percentiles it has, then the maximum;
 * a dash when nothing was measured.
 */
export function formatLatency(summary: LatencySummary | null | undefined): string {
  if (!summary || summary.count === 0) return '—';
  const parts: string[] = [];
  if (summary.p50Ns !== null) parts.push(`p50 ${formatNanos(summary.p50Ns)}`);
  if (summary.p99Ns !== null) parts.push(`p99 ${formatNanos(summary.p99Ns)}`);
  if (summary.p999Ns !== null) parts.push(`p99.9 ${formatNanos(summary.p999Ns)}`);
  parts.push(`max ${formatNanos(summary.maxNs)}`);
  return parts.join(' · ');
}

export function formatMillis(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '—' : formatNanos(ms * 1_000_000);
}

export function formatPercent(fraction: number | null | undefined): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return '—';
  const percent = fraction * 100;
  // Never round 99.96 % up to "100 %": 100 % must mean done.
  const shown = percent >= 100 ? 100 : Math.floor(percent * 10) / 10;
  return `${shown} %`;
}
