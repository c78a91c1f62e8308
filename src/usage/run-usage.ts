import { sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { normalizeDecimal } from '../decimal/decimal-text.js'
import { PRICED_CLASSES } from '../db/token-columns.js'
import { DIMENSIONS, type ColumnDimension } from './dimensions.js'
import { orderBySql, pageSelectSql, withGroupedSql, type UsageSpec } from './usage-sql.js'

export interface Cost {
  total: string
  input: string
  cachedInput: string
  cacheWrite: string
  output: string
  /** Cost of resource rows (images, storage, search calls, …); inside `total`. */
  resources: string
  currency: string
  complete: boolean
  unpricedTokens: number
  /** Per resource, the quantity that had no unit price (GiB-hours for storage); never priced as $0. */
  unpricedQuantity: ResourceQuantity[]
}

export interface ResourceQuantity {
  resource: string
  quantity: string
}

export interface UsageTotals {
  requests: number | null
  inputTokens: number
  outputTokens: number
  cachedInputTokens: number
  uncachedInputTokens: number
  cacheWriteTokens: number
  cacheWrite1hTokens: number
  cost: Cost
  reportedCost: string | null
}

/** One priced token class of a row: its tokens, their exact cost, and how many of them had no price. */
export interface ClassUsage {
  tokens: number
  cost: string
  unpricedTokens: number
}

export type ClassColumn = (typeof PRICED_CLASSES)[number]['column']

export interface UsageRow extends UsageTotals {
  windowStart: Date
  windowEnd: Date
  labels: { key: string; value: string | null }[] | null
  /** The values of `groupByAttributes`, in order; null when not grouping by attributes. */
  attributes: { key: string; value: string | null }[] | null
  modality: string | null
  /**
   * The row's resource quantity when it holds exactly one resource other than tokens (GiB-hours for
   * storage_bytes); null otherwise.
   */
  quantity: string | null
  /**
   * Exact sum of bytes × bucket seconds of the row's storage_bytes rows (null when none), for callers
   * that need the time-weighted mean of a gauge (REST vector_stores); not a GraphQL field.
   */
  storageByteSeconds: string | null
  /** Present when the spec asked for `classes`. */
  classes?: Record<ClassColumn, ClassUsage>
  [dimension: string]: unknown
}

function toClasses(r: Record<string, unknown>): Record<ClassColumn, ClassUsage> {
  return Object.fromEntries(
    PRICED_CLASSES.map((c) => [
      c.column,
      {
        tokens: (r[c.column] as number | null) ?? 0,
        cost: money(r[`c_${c.column}`] as string | null),
        unpricedTokens: (r[`u_${c.column}`] as number | null) ?? 0,
      },
    ]),
  ) as Record<ClassColumn, ClassUsage>
}

interface SqlTotals {
  requests: number | null
  input_tokens: number | null
  output_tokens: number | null
  cached_input_tokens: number | null
  uncached_input_tokens: number | null
  cache_write_tokens: number | null
  cache_write_1h_tokens: number | null
  cost_total: string | null
  cost_input: string | null
  cost_cached_input: string | null
  cost_cache_write: string | null
  cost_output: string | null
  cost_resources: string | null
  unpriced_tokens: number | null
  unpriced_quantity: ResourceQuantity[] | null
  reported_cost: string | null
}

const money = (v: string | null) => normalizeDecimal(v ?? '0')

function toTotals(r: SqlTotals, currency: string): UsageTotals {
  const unpriced = r.unpriced_tokens ?? 0
  const unpricedQuantity = (r.unpriced_quantity ?? []).map((u) => ({ resource: u.resource, quantity: money(u.quantity) }))
  return {
    requests: r.requests,
    inputTokens: r.input_tokens ?? 0,
    outputTokens: r.output_tokens ?? 0,
    cachedInputTokens: r.cached_input_tokens ?? 0,
    uncachedInputTokens: r.uncached_input_tokens ?? 0,
    cacheWriteTokens: r.cache_write_tokens ?? 0,
    cacheWrite1hTokens: r.cache_write_1h_tokens ?? 0,
    cost: {
      total: money(r.cost_total),
      input: money(r.cost_input),
      cachedInput: money(r.cost_cached_input),
      cacheWrite: money(r.cost_cache_write),
      output: money(r.cost_output),
      resources: money(r.cost_resources),
      currency,
      complete: unpriced === 0 && unpricedQuantity.length === 0,
      unpricedTokens: unpriced,
      unpricedQuantity,
    },
    reportedCost: r.reported_cost === null ? null : normalizeDecimal(r.reported_cost),
  }
}

export interface UsageResult {
  rows: UsageRow[]
  totals: UsageTotals
  /** Number of output groups the whole query has (all pages). */
  groupCount: number
  hasNextPage: boolean
}

/** A row as the statement returns it (JSON), before `toUsageRow`: what a page snapshot keeps. */
export type RawUsageRow = SqlTotals & Record<string, unknown>

export interface PageRequest {
  offset: number
  first: number
  /** Also return up to this many rows after the page (unmapped, as `following`), for a page snapshot. */
  following?: number | undefined
  /** Refuse the query (before reading a page) when it would produce more groups than this. */
  maxGroups: number
  currency: string
  onTooLarge: (groups: number) => Error
  /** Cancels the statement when the client goes away (PostgreSQL). */
  signal?: AbortSignal | undefined
}

/**
 * Runs a usage query as ONE statement: the grouped usage is computed once and yields both the totals
 * (with the group count that enforces the windows × groups bound) and the requested page, shipped
 * back as JSON (money is already text there, so nothing is rounded).
 */
export async function runUsage(db: Db, spec: UsageSpec, page: PageRequest): Promise<UsageResult & { following: RawUsageRow[] }> {
  const order = orderBySql(spec)
  const limit = page.first + (page.first > 0 ? (page.following ?? 0) : 0)
  const [result] = await db.query<{ totals: SqlTotals & { groups: number }; rows: RawUsageRow[] }>(sql`${withGroupedSql(spec)},
    totals as (select count(*)::int8 as groups,
      case when count(requests) = 0 then null else sum(requests)::int8 end as requests,
      sum(input_tokens)::int8 as input_tokens, sum(output_tokens)::int8 as output_tokens,
      sum(cached_input_tokens)::int8 as cached_input_tokens, sum(uncached_input_tokens)::int8 as uncached_input_tokens,
      sum(cache_write_tokens)::int8 as cache_write_tokens, sum(cache_write_1h_tokens)::int8 as cache_write_1h_tokens,
      sum(cost_input + cost_cached_input + cost_cache_write + cost_output + cost_resources)::text as cost_total,
      sum(cost_input)::text as cost_input, sum(cost_cached_input)::text as cost_cached_input,
      sum(cost_cache_write)::text as cost_cache_write, sum(cost_output)::text as cost_output,
      sum(cost_resources)::text as cost_resources,
      sum(unpriced_tokens)::int8 as unpriced_tokens, sum(reported_cost)::text as reported_cost,
      (select coalesce(json_agg(json_build_object('resource', u.resource, 'quantity', u.quantity::text) order by u.resource), '[]'::json)
        from (select e ->> 'resource' as resource, sum((e ->> 'quantity')::numeric) as quantity
          from grouped, jsonb_array_elements(grouped.unpriced_quantity) e group by 1) u) as unpriced_quantity
    from grouped),
    page as (select row_number() over (order by ${order}) as ord, ${pageSelectSql(spec)} from grouped
      where (select groups from totals) <= ${page.maxGroups}
      order by ${order} limit ${limit} offset ${page.offset})
    select (select row_to_json(t) from totals t) as totals,
      coalesce((select json_agg(p order by p.ord) from page p), '[]'::json) as rows`, [], { signal: page.signal })
  const totalsRow = result!.totals
  const groups = totalsRow.groups ?? 0
  if (groups > page.maxGroups) throw page.onTooLarge(groups)
  const totals = toTotals(totalsRow, page.currency)
  const rows = result!.rows.slice(0, page.first)
  return {
    rows: rows.map((r) => toUsageRow(spec, r, page.currency)),
    following: result!.rows.slice(page.first),
    totals,
    groupCount: groups,
    hasNextPage: page.offset + rows.length < groups,
  }
}

/** The fields of a statement row (run-usage's JSON) as a UsageRow of `spec`. */
export function toUsageRow(spec: Pick<UsageSpec, 'groupBy' | 'groupByLabels' | 'groupByAttributes' | 'classes'>, r: RawUsageRow, currency: string): UsageRow {
  const row: UsageRow = {
    ...toTotals(r, currency),
    windowStart: new Date(r.window_start as string),
    windowEnd: new Date(r.window_end as string),
    modality: (r.modality as string | undefined) ?? null,
    quantity: typeof r.quantity === 'string' ? normalizeDecimal(r.quantity) : null,
    storageByteSeconds: typeof r.storage_byte_seconds === 'string' ? normalizeDecimal(r.storage_byte_seconds) : null,
    labels: spec.groupByLabels.length
      ? spec.groupByLabels.map((key, i) => ({ key, value: (r[`label_${i}`] as string | null) ?? null }))
      : null,
    attributes: spec.groupByAttributes?.length
      ? spec.groupByAttributes.map((key, i) => ({ key, value: (r[`attr_${i}`] as string | null) ?? null }))
      : null,
  }
  for (const d of spec.groupBy.filter((x): x is ColumnDimension => x !== 'MODALITY')) row[DIMENSIONS[d].field] = r[DIMENSIONS[d].column] ?? null
  if (spec.classes) row.classes = toClasses(r)
  return row
}
