import { sql, type SQL } from 'drizzle-orm'
import type { Dimension, UsageFilter } from './dimensions.js'
import { DAY_MS, HOUR_MS } from '../time/instant.js'
import { calendarUnit, windowEndSql, windowStartSql, type Window } from './windows.js'

/**
 * When a usage query may read provider buckets from the hourly rollup (usage_bucket_hourly) instead
 * of usage_buckets. The rollup keeps every bucket dimension but the API key (every column that decides a
 * price or a source, and account, project and user), summed per UTC hour, so it gives exactly the base
 * table's answer whenever nothing the query distinguishes happens inside an hour:
 *  - no grouping or filter by API key — known before the query runs;
 *  - for a query that groups or filters by project or user: no rollup row of the range is one that
 *    migration 0015 kept undivided (`detailed = false`: an hour whose buckets retention had dropped
 *    before project and user entered the rollup) — checked in SQL through a partial index, empty on an
 *    installation that never dropped buckets before that migration; and then EITHER
 *  - `from` and `to` on whole hours, windows no finer than an hour, every window boundary on a whole
 *    UTC hour (so not in Asia/Kolkata, say) and every price change on the card inside the range on a
 *    whole hour (a bucket's rate segment is decided by its own start time) — the last two checked in SQL;
 *  - OR no rollup row of the range holds a bucket that starts off the whole hour (`off_hour_count`,
 *    migration 0010) — checked in SQL through a partial index. Such a row stands exactly for buckets
 *    that all start at `hour`, so it falls in the window (any zone, any window, MINUTE too), the range
 *    and the rate segment of `hour`, as each of its buckets does. This serves hourly data in
 *    Asia/Kolkata, Asia/Kathmandu or America/St_Johns, a range off the hour and off-hour price changes.
 * The SQL checks are a one-time filter inside the statement, which carries both plans; PostgreSQL runs
 * exactly one of them.
 *
 * Queries the hourly rollup cannot serve (they group or filter by API key, or its SQL checks fail) may
 * read the daily rollup (usage_bucket_daily), which keeps every bucket dimension per local day of each
 * zone it is kept for (UTC, and ROLLUP_TIME_ZONES: migration 0011, src/db/rollup-zones.ts). A row of
 * zone Z stands for the buckets whose start_time lies in its local day, so for windows DAY, WEEK, MONTH in
 * Z (or TOTAL) the rows of the whole local days inside the range, plus the base table's buckets of the
 * partial days at the range's ends (`dailySpan`: from `from` to the first Z-midnight, and from the last
 * Z-midnight to `to`), give the base table's answer when:
 *  - Z is kept (listed in rollup_time_zones, which happens only once its rows are complete — for the raw
 *    buckets stored: a zone added after retention dropped months has none of them, and reads there answer
 *    what the base table holds, nothing; src/db/rollup-zones.ts `coveredFrom`);
 *  - every price change of the card between those two midnights is a Z-local midnight (a bucket's rate
 *    segment is decided by its start_time, and then equals its day's);
 *  - the two midnights are in order (the range holds a whole local day, or none and they meet).
 * The first is known in JS for UTC; the rest are checked in SQL, as above. A TOTAL over UTC days reads
 * the UTC rows whatever the query's zone (a TOTAL window is the range in every zone).
 */

/** Which relation provider buckets are read from (base table, or a rollup behind the `aligned` check). */
export type BucketPath = 'base' | 'hourly' | 'daily'

/** Bucket dimensions the hourly rollup does not keep, as grouping dimensions and as list filters. */
const BASE_ONLY_DIMENSIONS: readonly Dimension[] = ['API_KEY']
const BASE_ONLY_FILTERS: readonly (keyof UsageFilter)[] = ['apiKeyIds']
/** Dimensions the hourly rollup keeps since migration 0015 (rows kept from before it hold them as null). */
const DETAIL_DIMENSIONS: readonly Dimension[] = ['PROJECT', 'USER']
const DETAIL_FILTERS: readonly (keyof UsageFilter)[] = ['projectIds', 'userIds']

export interface RollupQuery {
  from: Date
  to: Date
  window: Window
  timeZone: string
  groupBy: Dimension[]
  filter: UsageFilter
  /** false forces the base table (tests and the benchmark compare both). */
  rollups?: boolean | undefined
}

const distinguishes = (q: RollupQuery, dimensions: readonly Dimension[], filters: readonly (keyof UsageFilter)[]) =>
  q.groupBy.some((d) => dimensions.includes(d)) || filters.some((f) => (q.filter[f] as unknown[] | undefined)?.length)

/** The static half of the decision: what can be known without the database. */
function rollupCandidate(q: RollupQuery): boolean {
  return q.rollups !== false && !distinguishes(q, BASE_ONLY_DIMENSIONS, BASE_ONLY_FILTERS)
}

/** Whether the hourly path must check for undivided rows (a project or user grouping or filter). */
const needsDetail = (q: RollupQuery) => distinguishes(q, DETAIL_DIMENSIONS, DETAIL_FILTERS)

/** Whether the range and window length alone allow an hourly rollup whose parts start off the hour. */
export function hourWindowCandidate(q: RollupQuery): boolean {
  return q.window !== 'MINUTE' && q.from.getTime() % HOUR_MS === 0 && q.to.getTime() % HOUR_MS === 0
}

/**
 * The daily rollup's static half: the zone whose rows may serve the query (windows of whole local days,
 * or TOTAL), or undefined. UTC rows always exist; another zone's are checked in SQL (dayAlignedSql).
 */
function dailyZone(q: RollupQuery): string | undefined {
  if (q.rollups === false || !['DAY', 'WEEK', 'MONTH', 'TOTAL'].includes(q.window)) return undefined
  if (q.window === 'TOTAL' && q.from.getTime() % DAY_MS === 0 && q.to.getTime() % DAY_MS === 0) return 'UTC'
  return q.timeZone
}

/**
 * The whole local days of the daily path's zone inside the range (SQL timestamptz): `from` the first
 * local midnight at or after the range's start, `to` the last at or before its end. Buckets before and
 * after them come from the base table. Both may be any instant here; dayAlignedSql checks that they are
 * safe midnights in order before either part is read.
 */
export function dailySpan(q: RollupQuery): { zone: string; from: SQL; to: SQL } {
  const zone = dailyZone(q)
  if (zone === undefined) throw new Error('the daily path needs a zone (bucketPath)')
  const from = sql`${q.from.toISOString()}::timestamptz`
  const start = sql`date_trunc('day', ${from}, ${zone})`
  return {
    zone,
    from: sql`(case when ${from} = ${start} then ${from} else ((${start} at time zone ${zone}) + interval '1 day') at time zone ${zone} end)`,
    to: sql`date_trunc('day', ${q.to.toISOString()}::timestamptz, ${zone})`,
  }
}

/** The path a query takes if its card's price changes are aligned (the hourly rollup when both could). */
export function bucketPath(q: RollupQuery): BucketPath {
  if (rollupCandidate(q)) return 'hourly'
  return dailyZone(q) !== undefined ? 'daily' : 'base'
}

/**
 * Whether a query on the hourly path reads the daily rollup when the hourly checks fail (rather than
 * going straight to the base table): it groups or filters by project or user, so undivided rows may stop
 * the hourly path, and its windows are ones the daily rollup can serve.
 */
export function dailyFallback(q: RollupQuery): boolean {
  return rollupCandidate(q) && needsDetail(q) && dailyZone(q) !== undefined
}

/** A query as the SQL checks see it: the off-hour and detail checks read the tenant's rollup rows. */
type TenantRollupQuery = RollupQuery & { tenantId: string }

/**
 * The CTE body `aligned`: column `ok`, the chosen rollup gives the base table's answer; on the hourly path
 * with a daily fallback also `daily_ok`, the daily rollup would. Expects CTE `pts`.
 */
export function alignedSql(q: TenantRollupQuery, path: Exclude<BucketPath, 'base'>): SQL {
  if (path === 'daily') return sql`select ${dayAlignedSql(q)} as ok`
  const hourly = needsDetail(q) ? sql`(${hourAlignedSql(q)} and ${detailedSql(q)})` : hourAlignedSql(q)
  return dailyFallback(q) ? sql`select ${hourly} as ok, ${dayAlignedSql(q)} as daily_ok` : sql`select ${hourly} as ok`
}

/**
 * True when no hourly rollup row of the range is one migration 0015 kept undivided (project and user
 * unknown). One probe of the partial index usage_bucket_hourly_coarse, empty unless retention had dropped
 * buckets before that migration.
 */
function detailedSql(q: TenantRollupQuery): SQL {
  return sql`(not exists (select 1 from usage_bucket_hourly where tenant_id = ${q.tenantId} and not detailed
      and hour >= date_trunc('hour', ${q.from.toISOString()}::timestamptz, 'UTC') and hour < ${q.to.toISOString()}::timestamptz))`
}

/**
 * A boolean expression, as hourAlignedSql for the daily path: the zone's rows are complete, the span of whole local days is
 * bounded by safe midnights in order, and the card's price changes inside it are the zone's midnights.
 * For UTC the first holds by construction; checking it anyway keeps one definition.
 */
function dayAlignedSql(q: RollupQuery): SQL {
  const { zone, from, to } = dailySpan(q)
  // A local midnight that is also no earlier instant's day start: where a fall-back repeats the hour after
  // midnight (America/Havana, Atlantic/Azores), PostgreSQL starts the day at the second 00:00, so the
  // buckets of the first hour belong to a day that starts after them and would cross the boundary.
  const midnight = (p: SQL) => sql`(${p} = date_trunc('day', ${p}, ${zone}) and date_trunc('day', ${p} - interval '1 microsecond', ${zone}) < ${p})`
  return sql`(exists (select 1 from rollup_time_zones where time_zone = ${zone})
    and ${from} <= ${to} and ${midnight(from)} and ${midnight(to)}
    and not exists (
      select 1 from unnest((select arr from pts)) p
      where p > ${from} and p < ${to} and not ${midnight(sql`p`)}
    ))`
}

/**
 * A boolean expression: the hourly rollup gives the base table's answer, either because
 * every rollup row of the range stands for buckets starting at its hour (onTheHourSql), or because the
 * window boundaries and the card's price changes inside the range all fall on whole hours.
 */
function hourAlignedSql(q: TenantRollupQuery): SQL {
  if (!hourWindowCandidate(q)) return onTheHourSql(q)
  return sql`(${wholeHoursSql(q)} or ${onTheHourSql(q)})`
}

/**
 * A boolean expression: the window boundaries and the card's price changes inside the range all fall on
 * whole UTC hours, so anything summed per UTC hour (the hourly bucket rollup, the event rollup) lands in
 * the window and rate segment of each of its parts. Only for queries that pass hourWindowCandidate:
 * windows are then at least an hour long, so a boundary off the hour would be the window start of some
 * whole-hour instant of the range, and checking those instants is exact. Expects CTE `pts`.
 */
export function wholeHoursSql(q: RollupQuery): SQL {
  const from = sql`${q.from.toISOString()}::timestamptz`
  const to = sql`${q.to.toISOString()}::timestamptz`
  return sql`(${windowsAlignedSql(q, from, to)} and not exists (
      select 1 from unnest((select arr from pts)) p
      where p > ${from} and p < ${to} and p <> date_trunc('hour', p, 'UTC')
    ))`
}

/**
 * A boolean expression: every window start of the range is a whole UTC hour. HOUR windows are checked at
 * each whole hour of the range, start and end (as many as the windows, which the windows limit bounds). DAY, WEEK and
 * MONTH windows start at a local calendar unit's start (date_trunc in the zone: the local start taken back
 * to an instant), so each unit start from the range's first to its last is checked — a few hours' margin
 * either side covers local times that a fall-back moves back across a boundary; checking more starts only
 * ever chooses the base table. Checked per hour, a MONTH query in America/New_York from 1970 to 3000 (12,000
 * windows) computed nine million window starts: a minute with PGlite's event loop held.
 */
function windowsAlignedSql(q: RollupQuery, from: SQL, to: SQL): SQL {
  if (q.timeZone === 'UTC' || q.window === 'TOTAL') return sql`true`
  const unit = calendarUnit(q.window)
  if (!unit) {
    // The window's end too: a window may be shorter than an hour (one minute where the offset changed at
    // 00:01 local, America/Goose_Bay in 1988), and the one after it then holds no whole hour to be seen at.
    const start = windowStartSql(q.window, sql`g`, q.timeZone, q.from)
    const end = windowEndSql(q.window, start, q.timeZone, q.to)
    return sql`not exists (select 1 from generate_series(${from}, ${to} - interval '1 hour', interval '1 hour') g
      where ${start} <> date_trunc('hour', ${start}, 'UTC') or ${end} <> date_trunc('hour', ${end}, 'UTC'))`
  }
  const local = (t: SQL) => sql`((${t}) at time zone ${q.timeZone})`
  const start = sql`(s at time zone ${q.timeZone})`
  return sql`not exists (select 1 from generate_series(date_trunc(${unit}, ${local(sql`${from} - interval '3 hours'`)}),
      ${local(sql`${to} + interval '3 hours'`)}, ${`1 ${unit}`}::interval) s
    where ${start} <> date_trunc('hour', ${start}, 'UTC'))`
}

/**
 * True when no hourly rollup row that can hold a bucket of the range has one starting off the hour (so
 * the rollup rows read, `from ≤ hour < to`, are exactly the range's buckets, each at its row's hour).
 * One probe of the partial index usage_bucket_hourly_off_hour, empty for hourly data.
 */
function onTheHourSql(q: TenantRollupQuery): SQL {
  return sql`(not exists (select 1 from usage_bucket_hourly where tenant_id = ${q.tenantId} and off_hour_count > 0
      and hour >= date_trunc('hour', ${q.from.toISOString()}::timestamptz, 'UTC') and hour < ${q.to.toISOString()}::timestamptz))`
}
