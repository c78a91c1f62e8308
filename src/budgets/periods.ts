import { sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { firstInstantSql, windowEndSql, windowStartSql, type Window } from '../usage/windows.js'
import { DAY_MS } from '../time/instant.js'

export const PERIODS = ['day', 'week', 'month', 'rolling_7d', 'rolling_30d'] as const
export type Period = (typeof PERIODS)[number]

/** Calendar periods are the usage query's own local windows (week = Monday, DST-correct). */
export const CALENDAR_WINDOW: Partial<Record<Period, Window>> = { day: 'DAY', week: 'WEEK', month: 'MONTH' }
export const ROLLING_DAYS: Partial<Record<Period, number>> = { rolling_7d: 7, rolling_30d: 30 }

export interface Span {
  start: Date
  end: Date
}

/** A period as usage windows report it, and the range of start times whose rows it holds. */
export interface PeriodSpan extends Span {
  /** Starts before `start` where a fall-back repeats the hour after local midnight (firstInstantSql). */
  rows: Span
}

/**
 * The local calendar windows (of `window` in `tz`) that contain `first` and `last`: the start of the
 * first one and the end of the last one. Computed by the same SQL that buckets `usage`, so a budget's
 * period is exactly a usage window.
 */
export async function windowsCovering(db: Db, window: Window, tz: string, first: Date, last: Date): Promise<PeriodSpan> {
  const at = (d: Date) => sql`${d.toISOString()}::timestamptz`
  const lastStart = windowStartSql(window, at(last), tz, last)
  const [row] = await db.query<{ start: Date; end: Date; rows_start: Date; rows_end: Date }>(sql`
    select start, "end", ${firstInstantSql(sql`start`, tz)} as rows_start, ${firstInstantSql(sql`"end"`, tz)} as rows_end
    from (select ${windowStartSql(window, at(first), tz, first)} as start, ${windowEndSql(window, lastStart, tz, last)} as "end") w`)
  const r = row!
  return { start: new Date(r.start), end: new Date(r.end), rows: { start: new Date(r.rows_start), end: new Date(r.rows_end) } }
}

/** The period a budget is in at `at`: the calendar window containing it, or the rolling days before it. */
export async function periodAt(db: Db, period: Period, tz: string, at: Date): Promise<PeriodSpan> {
  const window = CALENDAR_WINDOW[period]
  if (window) return windowsCovering(db, window, tz, at, at)
  const span = { start: new Date(at.getTime() - ROLLING_DAYS[period]! * DAY_MS), end: at }
  return { ...span, rows: span }
}
