import { sql, type SQL } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { PRICED_CLASSES, UNPRICED_BY_COST } from '../db/token-columns.js'
import { inCodePointOrder } from '../db/orm.js'
import { assertExactCounts, COUNT_COLUMNS, countRangeError } from './exact-counts.js'
import { money, reportRowViews, toTotals, usageRowMapper, type ColumnReader } from './row-views.js'
import { afterKeySql, orderBySql, pageColumns, withGroupedSql, type RowKey, type UsageSpec } from './usage-sql.js'

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
  /** `unpricedTokens` by the Cost field its classes add to (they sum to it). */
  unpricedTokensByClass: UnpricedTokensByClass
  /** Per resource, the quantity that had no unit price (GiB-hours for storage); never priced as $0. */
  unpricedQuantity: ResourceQuantity[]
}

export type UnpricedTokensByClass = Record<(typeof UNPRICED_BY_COST)[number]['field'], number>

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
  /** Present when the spec asked for `classes: true`. */
  classes?: Record<ClassColumn, ClassUsage>
  /** Present when the spec asked for `classes: 'tokens'`: each priced class's tokens. */
  classTokens?: Record<ClassColumn, number>
  [dimension: string]: unknown
}

/** Each priced class's columns in the statement: tokens, cost (`c_`), unpriced tokens (`u_`). */
const CLASS_COLUMNS = PRICED_CLASSES.map((c) => ({ column: c.column, cost: `c_${c.column}`, unpriced: `u_${c.column}` }))

// Loops rather than Object.fromEntries over mapped arrays: these run for every row a report returns.
function toClassTokens(r: ColumnReader): Record<ClassColumn, number> {
  const out: Record<string, number> = {}
  for (const c of CLASS_COLUMNS) out[c.column] = (r.get(c.column) as number | null) ?? 0
  return out as Record<ClassColumn, number>
}

function toClasses(r: ColumnReader): Record<ClassColumn, ClassUsage> {
  const out: Record<string, ClassUsage> = {}
  for (const c of CLASS_COLUMNS)
    out[c.column] = {
      tokens: (r.get(c.column) as number | null) ?? 0,
      cost: money(r.get(c.cost)),
      unpricedTokens: (r.get(c.unpriced) as number | null) ?? 0,
    }
  return out as Record<ClassColumn, ClassUsage>
}

const BREAKDOWN = { classes: toClasses, classTokens: toClassTokens }

export interface UsageResult {
  rows: UsageRow[]
  totals: UsageTotals
  /** Number of output groups the whole query has (all pages). */
  groupCount: number
  hasNextPage: boolean
}

/** The totals as the statement returns them (one JSON object by column name), before `toTotals` maps them. */
export type RawTotals = Record<string, unknown>

/** A row as run-usage's statement ships it: the values of `pageColumns(spec)`, in that order (compact JSON). */
export type RowValues = unknown[]

export interface PageRequest {
  /** Rows before the page, when it is not read after a key. */
  offset: number
  /**
   * The key of the row before the page (a cursor's): the page is the rows after it, however many rows now
   * come before it. Pages read at an offset shifted when groups were added or removed between them (a
   * group listed twice, or one left out); `offset` then only numbers the rows.
   */
  after?: RowKey | undefined
  first: number
  /**
   * Also return the rows after the page, in order, as many as fit in this many bytes of JSON (the
   * statement measures each row's JSON text; unmapped, as `following`), for a page snapshot. 0: none.
   */
  followingBytes?: number | undefined
  /** Refuse the query (before reading a page) when it would produce more groups than this. */
  maxGroups: number
  currency: string
  onTooLarge: (groups: number) => Error
  /** Cancels the statement when the client goes away (PostgreSQL). */
  signal?: AbortSignal | undefined
}

/** What runUsage returns besides the page: the rows after it (see PageRequest.followingBytes). */
export interface Following {
  /** Column names of `following`'s values (pageColumns). */
  columns: string[]
  following: RowValues[]
  /** JSON bytes of `following` as the statement measured them (each row's text plus a separator). */
  followingBytes: number
}

/** json_build_array takes at most 100 arguments: wider rows are shipped as arrays of chunks. */
const JSON_ARGS = 100
/**
 * Fewest JSON bytes a shipped value is assumed to take (`null` and its separator take 6): caps the rows
 * the statement turns into JSON for a snapshot at budget / (columns × this), so a result far larger
 * than the budget is not serialized whole only to be cut. The byte cut itself is exact.
 */
const MIN_VALUE_BYTES = 6

/**
 * A page row as one JSON array of `pageColumns(spec)`'s values (`nested`: as arrays of chunks, see JSON_ARGS;
 * `values` flattens either): one column for the driver to read instead of one per value.
 */
export function rowJsonSql(spec: UsageSpec): { sql: SQL; nested: boolean; columns: string[]; values: (shipped: unknown[]) => RowValues } {
  const cols = pageColumns(spec)
  const chunks: SQL[] = []
  for (let i = 0; i < cols.length; i += JSON_ARGS) chunks.push(sql`json_build_array(${sql.join(cols.slice(i, i + JSON_ARGS).map((c) => c.expr), sql`, `)})`)
  const nested = chunks.length > 1
  return {
    sql: nested ? sql`json_build_array(${sql.join(chunks, sql`, `)})` : chunks[0]!,
    nested,
    columns: cols.map((c) => c.name),
    values: nested ? (shipped) => (shipped as unknown[][]).flat(1) : (shipped) => shipped,
  }
}

/**
 * Runs a usage query as ONE statement: the grouped usage is computed once and yields both the totals
 * (with the group count that enforces the windows × groups bound) and the requested page, shipped
 * back as JSON (money is already text there, so nothing is rounded). Each row is a JSON array of the
 * page columns' values (no repeated key names: about half the bytes of an object).
 */
export async function runUsage(db: Db, spec: UsageSpec, page: PageRequest): Promise<Omit<UsageResult, 'rows'> & Following & { values: RowValues[]; start: number }> {
  const order = orderBySql(spec)
  const shipped = rowJsonSql(spec)
  const { columns } = shipped
  const budget = page.first > 0 ? Math.max(0, Math.floor(page.followingBytes ?? 0)) : 0
  // After a key, one row more than the page says whether another follows.
  const limit = Math.max(page.first + Math.floor(budget / (MIN_VALUE_BYTES * columns.length)), page.after ? page.first + 1 : 0)
  // row_number counts from the first row the page statement reads: after the key, or the first of all.
  const pageEnd = page.after ? page.first : page.offset + page.first
  const [result] = await db
    .query<{ totals: RawTotals & { groups: number | null }; rows: unknown[][]; following_bytes: number | null; more: boolean; after_groups: number | null }>(sql`${withGroupedSql(spec)},
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
      ${sql.raw(UNPRICED_BY_COST.map((u) => `sum(${u.column})::int8 as ${u.column}`).join(', '))},
      (select coalesce(json_agg(json_build_object('resource', u.resource, 'quantity', u.quantity::text) order by ${inCodePointOrder(sql`u.resource`)}), '[]'::json)
        from (select e ->> 'resource' as resource, sum((e ->> 'quantity')::numeric) as quantity
          from grouped, jsonb_array_elements(grouped.unpriced_quantity) e group by 1) u) as unpriced_quantity
    from grouped),
    page as (select row_number() over (order by ${order}) as ord, ${shipped.sql} as j from grouped
      where (select groups from totals) <= ${page.maxGroups} ${page.after ? sql`and ${afterKeySql(spec, page.after)}` : sql``}
      order by ${order} limit ${limit} offset ${page.after ? 0 : page.offset}),
    sized as (select ord, j, sum(case when ord > ${pageEnd} then octet_length(j::text) + 1 else 0 end) over (order by ord) as bytes from page),
    kept as (select ord, j, bytes from sized where bytes <= ${budget})
    select (select row_to_json(t) from totals t) as totals,
      coalesce((select json_agg(j order by ord) from kept), '[]'::json) as rows,
      (select max(bytes) from kept)::int8 as following_bytes,
      exists (select 1 from page where ord > ${pageEnd}) as more,
      ${page.after ? sql`(select count(*) from grouped where ${afterKeySql(spec, page.after)})` : sql`null`}::int8 as after_groups`, [], { signal: page.signal })
    .catch((err: unknown) => {
      throw countRangeError(err)
    })
  const totalsRow = result!.totals
  const groups = totalsRow.groups ?? 0
  if (groups > page.maxGroups) throw page.onTooLarge(groups)
  // Counts are never negative, so no row's count exceeds the totals' (which GraphQL serves too).
  assertExactCounts(COUNT_COLUMNS.map((c) => totalsRow[c]))
  const totals = toTotals(totalsRow, page.currency)
  const all: RowValues[] = shipped.nested ? result!.rows.map(shipped.values) : result!.rows
  const rows = all.slice(0, page.first)
  return {
    // Unmapped: the caller maps the page as it needs it (usage-service: objects, or views for GraphQL).
    values: rows,
    // The page's position in this result: after a key, the groups before it now (not the cursor's offset,
    // which numbered an earlier result), so a snapshot of the rows after the page is numbered like groupCount.
    start: page.after ? groups - Number(result!.after_groups) : page.offset,
    columns,
    following: all.slice(page.first),
    followingBytes: result!.following_bytes ?? 0,
    totals,
    groupCount: groups,
    hasNextPage: page.after ? result!.more : page.offset + rows.length < groups,
  }
}

/**
 * Maps the rows a statement shipped (values in `columns` order: rowJsonSql) to UsageRow objects of `spec`:
 * the one mapping of src/usage/row-views.ts, every field read once.
 */
export function usageRows(
  spec: Pick<UsageSpec, 'groupBy' | 'groupByLabels' | 'groupByAttributes' | 'classes'>,
  columns: readonly string[],
  currency: string,
): (values: RowValues) => UsageRow {
  return usageRowMapper(spec, columns, currency, BREAKDOWN)
}

/** As `usageRows`, each row a view that maps a field when it is read (`reportRowViews`): for the REST reports' stream. */
export function usageReportRows(
  spec: Pick<UsageSpec, 'groupBy' | 'groupByLabels' | 'groupByAttributes' | 'classes'>,
  columns: readonly string[],
  currency: string,
): (values: RowValues) => UsageRow {
  return reportRowViews(spec, columns, currency, BREAKDOWN)
}
