import { describe, expect, it } from 'vitest';

import { CronError, nextRuns, parseCron } from './cron';

function runs(expression: string, zone: string, after: string, count = 5): string[] {
  return nextRuns(parseCron(expression), zone, Date.parse(after), count).map((t) => new Date(t).toISOString());
}

describe('cron next runs, as the service computes them', () => {
  it('reads 5 fields in the zone: 09:00 New York is 14:00 UTC in winter and 13:00 in summer', () => {
    expect(runs('0 9 * * 1-5', 'America/New_York', '2026-01-05T15:00:00Z', 2)).toEqual([
      '2026-01-06T14:00:00.000Z',
      '2026-01-07T14:00:00.000Z',
    ]);
    expect(runs('0 9 * * MON-FRI', 'America/New_York', '2026-07-06T15:00:00Z', 1)).toEqual(['2026-07-07T13:00:00.000Z']);
  });

  it('skips a time inside the spring-forward gap that day (Berlin, 29 March 2026)', () => {
    expect(runs('30 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z', 2)).toEqual([
      '2026-03-30T00:30:00.000Z',
      '2026-03-31T00:30:00.000Z',
    ]);
    // Hourly goes from 01:00 CET straight to 03:00 CEST, as in the service's preview example.
    expect(runs('@hourly', 'Europe/Berlin', '2026-03-28T23:30:00Z', 2)).toEqual([
      '2026-03-29T00:00:00.000Z',
      '2026-03-29T01:00:00.000Z',
    ]);
  });

  it('runs twice in the fall-back overlap (Berlin, 25 October 2026)', () => {
    expect(runs('30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z', 3)).toEqual([
      '2026-10-25T00:30:00.000Z',
      '2026-10-25T01:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ]);
  });

  it('needs both day fields to match when both are restricted', () => {
    // The 1st of a month that is a Monday: 2026-06-01, then 2027-02-01.
    expect(runs('0 0 1 * MON', 'UTC', '2026-01-01T00:00:00Z', 2)).toEqual([
      '2026-06-01T00:00:00.000Z',
      '2027-02-01T00:00:00.000Z',
    ]);
  });

  it("knows Spring's L, W, # and 6-field forms", () => {
    expect(runs('0 0 L * *', 'UTC', '2026-02-01T00:00:00Z', 2)).toEqual(['2026-02-28T00:00:00.000Z', '2026-03-31T00:00:00.000Z']);
    expect(runs('0 0 * * MON#1', 'UTC', '2026-02-01T00:00:00Z', 1)).toEqual(['2026-02-02T00:00:00.000Z']);
    expect(runs('0 0 15W * *', 'UTC', '2026-02-01T00:00:00Z', 1)).toEqual(['2026-02-16T00:00:00.000Z']); // the 15th is a Sunday
    expect(runs('0 0 * * 5L', 'UTC', '2026-02-01T00:00:00Z', 1)).toEqual(['2026-02-27T00:00:00.000Z']);
    expect(runs('0 */15 * * * *', 'UTC', '2026-02-01T00:07:00Z', 2)).toEqual(['2026-02-01T00:15:00.000Z', '2026-02-01T00:30:00.000Z']);
  });

  it('says what is wrong with an expression', () => {
    expect(() => parseCron('* * *')).toThrow(/3 fields/);
    expect(() => parseCron('61 * * * *')).toThrow(CronError);
    expect(() => parseCron('@reboot')).toThrow(/unknown macro/);
    expect(() => parseCron('0 0 5-1 * *')).toThrow(/backwards/);
  });
});
