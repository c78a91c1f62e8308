import { sql, type SQL } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { HOUR_MS, MAX_UNIX_SECONDS } from '../time/instant.js'

export type Window = 'MINUTE' | 'HOUR' | 'DAY' | 'WEEK' | 'MONTH' | 'TOTAL'

const SECONDS: Partial<Record<Window, number>> = { MINUTE: 60, HOUR: 3600 }
const CALENDAR: Partial<Record<Window, string>> = { DAY: 'day', WEEK: 'week', MONTH: 'month' }

/** The calendar unit of a DAY, WEEK or MONTH window (`day`, `week`, `month`); undefined for the others. */
export const calendarUnit = (window: Window): string | undefined => CALENDAR[window]

/**
 * The zone names this database knows (`pg_timezone_names`), read once per database and kept: the list
 * changes only with the server's tzdata. JavaScript's Intl knows aliases PostgreSQL does not
 * (`US/Pacific-New`, dropped from tzdata in 2020), and such a zone used to fail inside the query as a 500.
 */
const zoneLists = new WeakMap<Db, Promise<ReadonlySet<string>>>()

function databaseTimeZones(db: Db): Promise<ReadonlySet<string>> {
  let list = zoneLists.get(db)
  if (!list) {
    list = db.query<{ name: string }>('select name from pg_timezone_names').then((rows) => new Set(rows.map((r) => r.name)))
    // A failed read (database down) is not remembered: the next query asks again.
    list.catch(() => zoneLists.delete(db))
    zoneLists.set(db, list)
  }
  return list
}

/** Why `tz` is not a usable zone (the one wording for every entry point). */
export const unknownZoneMessage = (tz: string) =>
  `${JSON.stringify(tz.slice(0, 64))} is not an IANA time zone name this database knows (e.g. "Europe/Berlin", "UTC")`

/** A usable zone: an IANA name (or UTC) that both Intl and this PostgreSQL know. */
export async function isKnownTimeZone(db: Db, tz: string): Promise<boolean> {
  return isValidTimeZone(tz) && (await databaseTimeZones(db)).has(tz)
}

/** True for IANA names (and UTC) only; PostgreSQL's POSIX-style strings invert signs, so they are refused. */
export function isValidTimeZone(tz: string): boolean {
  if (tz.length > 64) return false
  if (tz === 'UTC') return true
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+){0,2}$/.test(tz) || /^(Etc\/)?GMT[+-]/.test(tz)) return false
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: tz }) !== undefined
  } catch {
    return false
  }
}

/**
 * SQL for the start of the window containing timestamptz `t`, in local calendar time of `tz`.
 * MINUTE and HOUR use the offset in force at `t` itself, so an hour repeated at a DST fall-back is
 * two windows, never merged; DAY, WEEK (Monday) and MONTH use PostgreSQL's zone-aware date_trunc.
 */
export function windowStartSql(window: Window, t: SQL, tz: string, from: Date): SQL {
  if (window === 'TOTAL') return sql`${from.toISOString()}::timestamptz`
  const seconds = SECONDS[window]
  // In UTC the local epoch is the epoch: date_trunc gives the same instant, and costs a fifth less of a
  // base-table statement that computes it once per bucket (HOUR × PROJECT reads every bucket).
  if (seconds && tz === 'UTC') return sql`date_trunc(${window === 'HOUR' ? 'hour' : 'minute'}, ${t}, 'UTC')`
  if (seconds) {
    const local = localEpoch(t, tz)
    const utc = sql`extract(epoch from ${t})`
    // The local hour (minute) start in the offset in force at t — unless the offset changed since
    // then: a change by a part of the window (Australia/Lord_Howe's 30-minute DST, America/Caracas
    // in 2007, Asia/Pyongyang in 2015) made that instant an hour of the old offset's windows, and the
    // two windows overlapped; a change a minute past the hour (America/St_Johns and America/Goose_Bay
    // until 2011) is not on any boundary. The window then starts at the change.
    const first = sql`to_timestamp(floor(${local} / ${seconds}) * ${seconds} - (${local} - ${utc}))`
    return sql`(case when ${offsetSql(first, tz)} = ${local} - ${utc} then ${first} else ${offsetChangeSql(first, t, tz)} end)`
  }
  return sql`date_trunc(${CALENDAR[window]!}, ${t}, ${tz})`
}

/**
 * Whether windowStartSql and windowEndSql are the long form (MINUTE or HOUR outside UTC: the local epoch,
 * a floor and the offset checks, some twenty numeric steps per value) rather than one date_trunc or a sum.
 */
export const costlyWindows = (window: Window, tz: string): boolean => SECONDS[window] !== undefined && tz !== 'UTC'

/** The longest range, in whole hours, whose windows windowsByHourSql computes per hour (~100 ms of SQL at most). */
const HOURLY_WINDOWS_MAX_HOURS = 10_000

/**
 * The window start of every whole UTC hour of [from, to], as rows (`wt` the hour, `ww` windowStartSql of it),
 * for facts whose every instant is a whole hour (the hourly rollups): outside UTC, windowStartSql of a MINUTE
 * or HOUR window is some twenty numeric steps per value, and an hourly rollup holds many rows per hour (100
 * per hour in the benchmark's 10M buckets), so looking each row's hour up here computes it once per hour
 * instead of once per row. The same expression, so the same windows. Undefined where it would not pay: in
 * UTC (plain date_trunc), for calendar windows (one date_trunc, as cheap as the lookup) and TOTAL, and past
 * HOURLY_WINDOWS_MAX_HOURS, where a sparse range would compute more hours than it has rows.
 */
export function windowsByHourSql(window: Window, tz: string, from: Date, to: Date): SQL | undefined {
  if (!costlyWindows(window, tz)) return undefined
  const first = Math.floor(from.getTime() / HOUR_MS) * HOUR_MS
  if ((to.getTime() - first) / HOUR_MS > HOURLY_WINDOWS_MAX_HOURS) return undefined
  return sql`select g as wt, ${windowStartSql(window, sql`g`, tz, from)} as ww
    from generate_series(${new Date(first).toISOString()}::timestamptz, ${to.toISOString()}::timestamptz, interval '1 hour') g`
}

/** Seconds since the epoch of the local wall-clock time of `t` in `tz`. */
const localEpoch = (t: SQL, tz: string) => sql`extract(epoch from (${t} at time zone ${tz}))`

/** The UTC offset in force at `t` in `tz`, in seconds. */
const offsetSql = (t: SQL, tz: string) => sql`(${localEpoch(t, tz)} - extract(epoch from ${t}))`

/**
 * The first instant after `after` and no later than `until` whose offset differs from the offset at `after`
 * (the caller knows there is one): a minute-step scan, then a second-step scan of the minute found
 * (Africa/Monrovia's offset was −00:44:30 until 1972). Only reached near an offset change, at most 60 + 60
 * offsets per value.
 */
function offsetChangeSql(after: SQL, until: SQL, tz: string): SQL {
  const changed = (p: SQL) => sql`${offsetSql(p, tz)} <> ${offsetSql(after, tz)}`
  return sql`(select (select min(s) from generate_series(mm.m - interval '59 seconds', mm.m, interval '1 second') s where ${changed(sql`s`)})
    from (select min(m) as m from generate_series(${after} + interval '1 minute', ${until} + interval '1 minute', interval '1 minute') m
      where ${changed(sql`m`)}) mm)`
}

/**
 * The last instant any entry point accepts (9999-12-31T23:59:59.999Z): no range reaches past it, so a
 * window ending there holds everything its real end would. The real end of the last windows of 9999 is
 * in year 10000, which RFC 3339 cannot write and JavaScript's Date parser (and so the GraphQL, REST and
 * budget code reading it back) cannot read.
 */
const END_OF_TIME = new Date(MAX_UNIX_SECONDS * 1000 + 999).toISOString()

/** SQL for the end of a window given its start: absolute for MINUTE/HOUR, local calendar otherwise. */
export function windowEndSql(window: Window, start: SQL, tz: string, to: Date): SQL {
  if (window === 'TOTAL') return sql`${to.toISOString()}::timestamptz`
  const seconds = SECONDS[window]
  // The next local boundary: a window that starts at an offset change off the boundary is shorter.
  // Calendar ends are truncated again: a window that starts where local midnight does not exist (DST
  // at 00:00 in America/Havana, America/Santiago, America/Asuncion, …) starts at 01:00 local, and a day,
  // week or month later is 01:00 again — an hour into the next window, which then overlapped this one.
  const local = localEpoch(start, tz)
  const end = seconds
    ? tz === 'UTC'
      ? sql`${start} + make_interval(secs => ${seconds})`
      : nextWindowStartSql(sql`(${start} + make_interval(secs => ${seconds} - (${local} - floor(${local} / ${seconds}) * ${seconds})))`, start, tz)
    : sql`date_trunc(${CALENDAR[window]!}, (${start} at time zone ${tz}) + ${`1 ${CALENDAR[window]!}`}::interval) at time zone ${tz}`
  return sql`least(${end}, ${END_OF_TIME}::timestamptz)`
}

/**
 * The start of the MINUTE or HOUR window after the one starting at `start`, given `boundary`, the next local
 * boundary in the offset in force at `start`. Usually `boundary` itself; but where the offset changes inside
 * the window — forward by part of it (America/Caracas on 2016-05-01, −04:30 → −04:00 at 02:30 local;
 * Asia/Pyongyang on 2018-05-04) or a minute past the hour (America/Goose_Bay on 1988-04-03) — the next
 * window starts at the change (windowStartSql), before `boundary`: this one ends there, or the two
 * overlapped ([06:30, 07:30) beside [07:00, 08:00) UTC).
 */
function nextWindowStartSql(boundary: SQL, start: SQL, tz: string): SQL {
  const before = sql`(${boundary} - interval '1 microsecond')`
  return sql`(case when ${offsetSql(before, tz)} = ${offsetSql(start, tz)} then ${boundary} else ${offsetChangeSql(start, before, tz)} end)`
}

/**
 * The first instant whose rows belong to the calendar window starting at `boundary` (a windowStartSql or
 * windowEndSql value). Usually `boundary` itself; but where a fall-back repeats the hour after local
 * midnight (America/Havana: 01:00 → 00:00), PostgreSQL starts the day at the second 00:00, and the rows of
 * the first 00:00–01:00 — which date_trunc puts in that day — start an hour before it. A range over
 * [first instant of a window, first instant of the next) then holds exactly the rows the window groups.
 */
export function firstInstantSql(boundary: SQL, tz: string): SQL {
  const before = sql`(${boundary} - interval '3 hours')`
  const early = sql`(${before} + ((${boundary} at time zone ${tz}) - (${before} at time zone ${tz})))`
  return sql`(case when ${early} < ${boundary} and (${early} at time zone ${tz}) = (${boundary} at time zone ${tz}) then ${early} else ${boundary} end)`
}

/** The shortest a window can be, in seconds (a local day or week losing a DST hour, a February doing so). */
export const SHORTEST_WINDOW_SECONDS: Record<Window, number> = { MINUTE: 60, HOUR: 3600, DAY: 82_800, WEEK: 601_200, MONTH: 2_415_600, TOTAL: Infinity }

/** An upper bound on the number of windows a range spans (used to refuse runaway queries early). */
export function maxWindows(window: Window, from: Date, to: Date): number {
  const span = (to.getTime() - from.getTime()) / 1000
  return Math.ceil(span / SHORTEST_WINDOW_SECONDS[window]) + 1
}
