import { sql, type SQL } from 'drizzle-orm'
import { PRICED_CLASSES } from '../db/token-columns.js'
import { EVENT_ONLY_FILTERS, FILTER_COLUMNS, filterValues } from './dimensions.js'
import { dailyFallback, dailySpan, hourWindowCandidate, wholeHoursSql, type BucketPath } from './rollups.js'
import type { UsageSpec } from './usage-sql.js'

/**
 * The facts a usage query aggregates: provider-reported token buckets (base table, hourly rollup, or the
 * daily rollup's rows of one zone, placed at their local day's first instant),
 * event rollups, and resource rows (provider-reported and from events), as ONE relation with the same
 * columns. Token facts are resource `tokens` with no quantity; resource facts have zero tokens, no
 * request count (`requests` counts token rows only), and carry `quantity`, the bucket's length in
 * seconds (`secs`, for storage priced per GiB-day) and, for `storage_bytes`, the stored row's id
 * (`rid`), so that each stored storage bucket is priced and rounded on its own.
 */

const CLASS_COLUMNS = PRICED_CLASSES.map((c) => c.column)
export const COUNTERS = ['input_tokens', 'output_tokens', ...CLASS_COLUMNS]
const EVENT_COLUMNS = ['endpoint', 'request_type', 'session_id', 'employee_id', 'agent_id']
const raw = (s: string) => sql.raw(s)

const eventNulls = raw(EVENT_COLUMNS.map((c) => `null::text as ${c}`).join(', '))
const zeroCounters = raw(COUNTERS.map((c) => `0::int8 as ${c}`).join(', '))
const tokenResource = raw(`'tokens'::text as resource, '{}'::jsonb as attributes, null::numeric as quantity, null::numeric as secs, null::int8 as rid`)

/**
 * List filters for one part of the facts. `constants` stands in for columns the part's table lacks
 * (a resource row has no usage type; a token row is resource `tokens`); event-only filters exclude
 * every part but the events'.
 */
function partFilters(spec: UsageSpec, eventPart: boolean, constants: Record<string, string>): SQL[] {
  const where: SQL[] = []
  for (const [key, column] of Object.entries(FILTER_COLUMNS) as [keyof typeof FILTER_COLUMNS, string][]) {
    const values = filterValues(spec.filter, key)
    if (!values?.length) continue
    if (!eventPart && (EVENT_ONLY_FILTERS as readonly string[]).includes(key)) where.push(sql`false`)
    else where.push(sql`${raw(constants[column] ?? column)} = any(${sql.param(values)}::text[])`)
  }
  if (spec.filter.batch !== undefined) where.push(sql`coalesce(batch, false) = ${spec.filter.batch}`)
  return where
}

const range = (spec: UsageSpec, time: string) => [
  sql`tenant_id = ${spec.tenantId}`,
  sql`${raw(time)} >= ${spec.from.toISOString()}::timestamptz`,
  sql`${raw(time)} < ${spec.to.toISOString()}::timestamptz`,
]
const and = (parts: SQL[]) => sql.join(parts, sql` and `)
const TOKEN_CONSTANTS = { resource: `'tokens'` }

/**
 * One part of the facts: its rows (the columns above), the one-time condition under which it is read at
 * all (an uncorrelated boolean, evaluated once; absent: always), and whether it holds only token rows
 * (resource `tokens`, no attributes, quantity or storage id), which the query layer need not group by.
 */
export interface FactPart {
  sql: SQL
  gate?: SQL
  tokensOnly: boolean
  /** Every row's `t` is a whole UTC hour (an hourly rollup's row): its window may be looked up per hour. */
  hourly?: true
}

const tokenPart = (rows: SQL, gate?: SQL): FactPart => (gate ? { sql: rows, gate, tokensOnly: true } : { sql: rows, tokensOnly: true })
const hourlyPart = (rows: SQL, gate?: SQL): FactPart => ({ ...tokenPart(rows, gate), hourly: true })

/** Provider-reported buckets (from the base table, or a rollup and the base table gated) as facts. */
function bucketFactsSql(spec: UsageSpec, bucketSources: string[], path: BucketPath): FactPart[] {
  const filters = [sql`source = any(${sql.param(bucketSources)}::text[])`, ...partFilters(spec, false, TOKEN_CONSTANTS)]
  const where = (time: string) => [...range(spec, time), ...filters]
  const baseSql = (times: SQL) => sql`select start_time as t, provider, account_id, project_id, user_id, api_key_id, model,
      service_tier, batch, source, usage_type, context_tier, inference_geo, ${eventNulls}, '{}'::jsonb as labels, num_model_requests as requests,
      ${raw(COUNTERS.join(', '))}, null::numeric as reported_cost, ${tokenResource}
    from usage_buckets where tenant_id = ${spec.tenantId} and ${times} and ${and(filters)}`
  const from = sql`${spec.from.toISOString()}::timestamptz`
  const to = sql`${spec.to.toISOString()}::timestamptz`
  const base = baseSql(sql`start_time >= ${from} and start_time < ${to}`)
  if (path === 'base') return [tokenPart(base)]
  // The plans, gated by the one-time `aligned` check: exactly one of them reads anything.
  const aligned = sql`(select ok from aligned)`
  const fallback = tokenPart(base, sql`not (select ok from aligned)`)
  // The zone's rows of the whole local days in range, each at its day's first instant; the partial days
  // at either end from the base table (empty ranges when the range is on the zone's midnights).
  const daily = (gate: SQL): FactPart[] => {
    const span = dailySpan(spec)
    const days = sql`select day as t, provider, account_id, project_id, user_id, api_key_id, model,
      service_tier, batch, source, usage_type, context_tier, inference_geo, ${eventNulls}, '{}'::jsonb as labels,
      case when requests_known > 0 then num_model_requests end as requests, ${raw(COUNTERS.join(', '))},
      null::numeric as reported_cost, ${tokenResource}
    from usage_bucket_daily where tenant_id = ${spec.tenantId} and time_zone = ${span.zone}
      and day >= ${span.from} and day < ${span.to} and ${and(filters)}`
    const ends = sql`${baseSql(sql`start_time >= ${from} and start_time < ${span.from}`)}
    union all ${baseSql(sql`start_time >= ${span.to} and start_time < ${to}`)}`
    return [tokenPart(days, gate), tokenPart(ends, gate)]
  }
  if (path === 'daily') return [...daily(aligned), fallback]
  const rollup = sql`select hour as t, provider, account_id, project_id, user_id,
      null::text as api_key_id, model, service_tier, batch, source, usage_type, context_tier, inference_geo, ${eventNulls}, '{}'::jsonb as labels,
      case when requests_known > 0 then num_model_requests end as requests, ${raw(COUNTERS.join(', '))},
      null::numeric as reported_cost, ${tokenResource}
    from usage_bucket_hourly where ${and(where('hour'))}`
  if (!dailyFallback(spec)) return [hourlyPart(rollup, aligned), fallback]
  // A project or user query the hourly rollup could not serve may still be served by the daily one.
  return [
    hourlyPart(rollup, aligned),
    ...daily(sql`(select not ok and daily_ok from aligned)`),
    tokenPart(base, sql`(select not ok and not daily_ok from aligned)`),
  ]
}

/**
 * Provider-reported resource rows, always from the base table: they are few next to token buckets
 * (one row per resource, attribute set and bucket), and reading them directly keeps the rollup path
 * exactly equal to the base-table path by construction.
 */
function resourceFactsSql(spec: UsageSpec, bucketSources: string[]): SQL {
  const where = [
    ...range(spec, 'start_time'),
    sql`source = any(${sql.param(bucketSources)}::text[])`,
    ...partFilters(spec, false, { usage_type: 'null::text' }),
  ]
  return sql`select start_time as t, provider, account_id, project_id, user_id, api_key_id, model,
      service_tier, batch, source, null::text as usage_type, context_tier, inference_geo, ${eventNulls}, '{}'::jsonb as labels,
      null::int8 as requests, ${zeroCounters}, reported_cost, resource, attributes, quantity,
      extract(epoch from end_time) - extract(epoch from start_time) as secs,
      case when resource = 'storage_bytes' then id end as rid
    from usage_resources where ${and(where)}`
}

const EVENT_CONSTANTS = { usage_type: `'completions'` }

/**
 * Event tokens and event resources (an event's `resources`, one row each) as facts. Tokens come from the
 * hourly event rollup when windows, range and price changes all fall on whole UTC hours — decided once
 * inside the statement, like the bucket rollups — and otherwise from the stored events themselves, each
 * at its own instant: an event at 18:45 UTC belongs to the next day in Asia/Kolkata and to minute 18:45,
 * not to its rollup hour's. A rollup row counts its events as requests (an event is one request).
 * Hours whose stored events retention dropped are read from the rollup either way (below).
 */
function eventFactsSql(spec: UsageSpec): FactPart[] {
  const tokenFilters = (time: string) => and([...range(spec, time), ...partFilters(spec, true, { ...EVENT_CONSTANTS, ...TOKEN_CONSTANTS })])
  const tokenColumns = sql`provider, account_id, project_id, user_id, api_key_id, model,
      service_tier, batch, 'events'::text as source, 'completions'::text as usage_type, context_tier,
      inference_geo, ${raw(EVENT_COLUMNS.join(', '))}, labels`
  const rolled = sql`select hour as t, ${tokenColumns}, num_model_requests as requests, ${raw(COUNTERS.join(', '))}, reported_cost, ${tokenResource}
    from usage_event_rollups where ${tokenFilters('hour')}`
  const stored = sql`select timestamp as t, ${tokenColumns}, 1::int8 as requests, ${raw(COUNTERS.join(', '))}, reported_cost, ${tokenResource}
    from usage_events where ${tokenFilters('timestamp')}`
  const resources = sql`select timestamp as t, provider, account_id, project_id, user_id, api_key_id, model,
      service_tier, batch, 'events'::text as source, null::text as usage_type, context_tier,
      inference_geo, ${raw(EVENT_COLUMNS.join(', '))},
      labels, null::int8 as requests, ${zeroCounters}, null::numeric as reported_cost, resource, attributes, quantity,
      0::numeric as secs, null::int8 as rid
    from usage_event_resources where ${and([...range(spec, 'timestamp'), ...partFilters(spec, true, { ...EVENT_CONSTANTS, usage_type: 'null::text' })])}`
  // Retention drops raw events by whole UTC months and keeps their rollup rows (src/db/partitions.ts):
  // rollup hours before the tenant's oldest stored event have lost their events, so those still come
  // from the rollup, placed by their hour as before (exactness needs the raw rows). One index probe.
  const firstStored = sql`(select date_trunc('hour', coalesce(min(timestamp), 'infinity'::timestamptz), 'UTC')
    from usage_events where tenant_id = ${spec.tenantId})`
  const dropped = sql`${rolled} and hour < ${firstStored}`
  const resourcePart = { sql: resources, tokensOnly: false }
  if (!hourWindowCandidate(spec)) return [tokenPart(stored), hourlyPart(dropped), resourcePart]
  // Uncorrelated, so evaluated once: the rollup alone, or the stored events and the dropped hours.
  const hours = sql`(select ${wholeHoursSql(spec)})`
  return [hourlyPart(rolled, hours), tokenPart(stored, sql`not ${hours}`), hourlyPart(dropped, sql`not ${hours}`), resourcePart]
}

/**
 * Every fact of the query, as the parts a `union all` of them would be. The query layer aggregates each
 * part on its own (then sums the partial aggregates): a rollup part and the base-table part it is gated
 * against are then planned apart, each with its own row estimate, instead of as one relation the planner
 * sizes by the base table (docs/performance.md).
 */
export function factParts(spec: UsageSpec, path: BucketPath): FactPart[] {
  const parts: FactPart[] = []
  const bucketSources = spec.sources.filter((s) => s !== 'events')
  if (bucketSources.length) parts.push(...bucketFactsSql(spec, bucketSources, path), { sql: resourceFactsSql(spec, bucketSources), tokensOnly: false })
  if (spec.sources.includes('events')) parts.push(...eventFactsSql(spec))
  return parts
}
