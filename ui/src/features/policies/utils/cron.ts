/**
 * Next fire times of a policy's cron schedule in its time zone, computed in the browser so an
 * unsaved form can show them while the operator types. It follows the service's rules
 * (docs/snapshots.md, Spring's CronExpression): 5 fields, 6 fields (seconds first) or a macro;
 * both day fields must match when both are restricted; L, W, # and ? as Spring reads them; a
 * local time inside a spring-forward gap is skipped that day, one inside a fall-back overlap
 * fires at both instants. The service validates on save and its preview is the authority.
 */

type DayOfMonth = { any: boolean; days: Set<number>; fromLast: number[]; lastWeekday: boolean; nearestWeekday: number[] };
type DayOfWeek = { any: boolean; days: Set<number>; last: number[]; nth: [number, number][] };

export type Cron = {
  seconds: number[];
  minutes: number[];
  hours: number[];
  dayOfMonth: DayOfMonth;
  months: Set<number>;
  /** Days of week as Spring numbers them: 1 = Monday … 7 = Sunday. */
  dayOfWeek: DayOfWeek;
};

export class CronError extends Error {}

const macros: Record<string, string> = {
  '@yearly': '0 0 0 1 1 *',
  '@annually': '0 0 0 1 1 *',
  '@monthly': '0 0 0 1 * *',
  '@weekly': '0 0 0 * * 0',
  '@daily': '0 0 0 * * *',
  '@midnight': '0 0 0 * * *',
  '@hourly': '0 0 * * * *',
};

const monthNames = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const dayNames = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'];

function replaceNames(text: string, names: string[]): string {
  let out = text.toUpperCase();
  names.forEach((name, i) => {
    out = out.replaceAll(name, String(i + 1));
  });
  return out;
}

function number(text: string, field: string, min: number, max: number): number {
  if (!/^\d+$/.test(text)) throw new CronError(`${field}: '${text}' is not a number`);
  const value = Number(text);
  if (value < min || value > max) throw new CronError(`${field}: ${value} is outside ${min}-${max}`);
  return value;
}

/** A field of plain values: lists of values, ranges and steps, e.g. "0,15,30-40/5,*\/10". */
function values(text: string, field: string, min: number, max: number): Set<number> {
  const result = new Set<number>();
  for (const part of text.split(',')) {
    if (part === '') throw new CronError(`${field}: empty list item`);
    const [range, stepText, extra] = part.split('/');
    if (extra !== undefined) throw new CronError(`${field}: '${part}' has more than one '/'`);
    const step = stepText === undefined ? 1 : number(stepText, field, 1, max);
    let from: number;
    let to: number;
    if (range === '*' || range === '?') {
      from = min;
      to = max;
    } else if (range!.includes('-')) {
      const [a, b] = range!.split('-');
      from = number(a!, field, min, max);
      to = number(b!, field, min, max);
      if (from > to) throw new CronError(`${field}: range ${range} goes backwards`);
    } else {
      from = number(range!, field, min, max);
      to = stepText === undefined ? from : max;
    }
    for (let v = from; v <= to; v += step) result.add(v);
  }
  return result;
}

function sorted(set: Set<number>): number[] {
  return [...set].sort((a, b) => a - b);
}

function parseDayOfMonth(text: string): DayOfMonth {
  const spec: DayOfMonth = { any: false, days: new Set(), fromLast: [], lastWeekday: false, nearestWeekday: [] };
  if (text === '*' || text === '?') return { ...spec, any: true };
  const plain: string[] = [];
  for (const part of text.toUpperCase().split(',')) {
    if (part === 'L') spec.fromLast.push(0);
    else if (part === 'LW') spec.lastWeekday = true;
    else if (/^L-\d+$/.test(part)) spec.fromLast.push(number(part.slice(2), 'day-of-month', 0, 30));
    else if (/^\d+W$/.test(part)) spec.nearestWeekday.push(number(part.slice(0, -1), 'day-of-month', 1, 31));
    else plain.push(part);
  }
  if (plain.length) spec.days = values(plain.join(','), 'day-of-month', 1, 31);
  return spec;
}

function parseDayOfWeek(raw: string): DayOfWeek {
  const spec: DayOfWeek = { any: false, days: new Set(), last: [], nth: [] };
  if (raw === '*' || raw === '?') return { ...spec, any: true };
  const text = replaceNames(raw, dayNames);
  const plain: string[] = [];
  const day = (t: string) => {
    const d = number(t, 'day-of-week', 0, 7);
    return d === 0 ? 7 : d;
  };
  for (const part of text.split(',')) {
    if (/^\d+L$/.test(part)) spec.last.push(day(part.slice(0, -1)));
    else if (/^\d+#\d+$/.test(part)) {
      const [d, n] = part.split('#');
      spec.nth.push([day(d!), number(n!, 'day-of-week', 1, 5)]);
    } else plain.push(part);
  }
  if (plain.length) {
    for (const v of values(plain.join(','), 'day-of-week', 0, 7)) spec.days.add(v === 0 ? 7 : v);
  }
  return spec;
}

export function parseCron(expression: string): Cron {
  const text = expression.trim();
  if (text === '') throw new CronError('must not be blank');
  let fields: string[];
  if (text.startsWith('@')) {
    const macro = macros[text.toLowerCase()];
    if (!macro) throw new CronError(`unknown macro '${text}'; use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly`);
    fields = macro.split(' ');
  } else {
    fields = text.split(/\s+/);
    if (fields.length === 5) fields = ['0', ...fields];
    else if (fields.length !== 6) {
      throw new CronError(`has ${fields.length} fields; expected 5 (minute hour day-of-month month day-of-week), 6 (second first) or a macro such as @daily`);
    }
  }
  const [s, mi, h, dom, mon, dow] = fields as [string, string, string, string, string, string];
  return {
    seconds: sorted(values(s, 'second', 0, 59)),
    minutes: sorted(values(mi, 'minute', 0, 59)),
    hours: sorted(values(h, 'hour', 0, 23)),
    dayOfMonth: parseDayOfMonth(dom),
    months: values(replaceNames(mon, monthNames), 'month', 1, 12),
    dayOfWeek: parseDayOfWeek(dow),
  };
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** 1 = Monday … 7 = Sunday. */
function weekday(year: number, month: number, day: number): number {
  const d = new Date(Date.UTC(year, month - 1, day)).getUTCDay();
  return d === 0 ? 7 : d;
}

function nearestWeekday(year: number, month: number, day: number): number {
  const last = daysIn(year, month);
  const d = Math.min(day, last);
  const wd = weekday(year, month, d);
  if (wd === 6) return d === 1 ? 3 : d - 1;
  if (wd === 7) return d === last ? d - 2 : d + 1;
  return d;
}

function dayMatches(cron: Cron, year: number, month: number, day: number): boolean {
  if (!cron.months.has(month)) return false;
  const last = daysIn(year, month);
  const dom = cron.dayOfMonth;
  const domOk =
    dom.any ||
    dom.days.has(day) ||
    dom.fromLast.some((offset) => day === last - offset) ||
    (dom.lastWeekday && day === nearestWeekday(year, month, last)) ||
    dom.nearestWeekday.some((n) => day === nearestWeekday(year, month, n));
  if (!domOk) return false;
  const dow = cron.dayOfWeek;
  const wd = weekday(year, month, day);
  return (
    dow.any ||
    dow.days.has(wd) ||
    dow.last.some((d) => d === wd && day + 7 > last) ||
    dow.nth.some(([d, n]) => d === wd && Math.ceil(day / 7) === n)
  );
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function partsFormatter(zone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, formatter);
  }
  return formatter;
}

/** Wall-clock fields of an instant in a zone, as a UTC timestamp (so they can be compared). */
function wallClock(instant: number, zone: string): number {
  const parts: Record<string, number> = {};
  for (const part of partsFormatter(zone).formatToParts(new Date(instant))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour! % 24, parts.minute!, parts.second!);
}

/** The instants at which a zone's clocks show `local`: none in a gap, two in an overlap. */
export function instantsOf(local: number, zone: string): number[] {
  const offsets = new Set([-86_400_000, 0, 86_400_000].map((shift) => wallClock(local + shift, zone) - (local + shift)));
  const found = new Set<number>();
  for (const offset of offsets) {
    const instant = local - offset;
    if (wallClock(instant, zone) === local) found.add(instant);
  }
  return [...found].sort((a, b) => a - b);
}

export function isTimeZone(zone: string): boolean {
  try {
    partsFormatter(zone);
    return zone.trim() !== '' && !/^[+-]/.test(zone);
  } catch {
    return false;
  }
}

/** The first `count` fire times strictly after `after` (epoch ms), as instants. */
export function nextRuns(cron: Cron, zone: string, after: number, count: number, horizonYears = 8): number[] {
  const runs: number[] = [];
  const start = new Date(wallClock(after, zone));
  let year = start.getUTCFullYear();
  let month = start.getUTCMonth() + 1;
  let day = start.getUTCDate();
  const lastDay = Date.UTC(year + horizonYears, month - 1, day);
  // Start a day early: an overlap can make a local time that has passed happen again.
  const first = new Date(Date.UTC(year, month - 1, day - 1));
  year = first.getUTCFullYear();
  month = first.getUTCMonth() + 1;
  day = first.getUTCDate();
  while (runs.length < count && Date.UTC(year, month - 1, day) <= lastDay) {
    if (dayMatches(cron, year, month, day)) {
      for (const hour of cron.hours) {
        for (const minute of cron.minutes) {
          for (const second of cron.seconds) {
            for (const instant of instantsOf(Date.UTC(year, month - 1, day, hour, minute, second), zone)) {
              if (instant > after) runs.push(instant);
            }
            if (runs.length >= count * 4) break;
          }
          if (runs.length >= count * 4) break;
        }
        if (runs.length >= count * 4) break;
      }
    }
    const next = new Date(Date.UTC(year, month - 1, day + 1));
    year = next.getUTCFullYear();
    month = next.getUTCMonth() + 1;
    day = next.getUTCDate();
  }
  return runs.sort((a, b) => a - b).slice(0, count);
}
