import { compareCodePoints } from '../code-point-order.js'
import type { TenantGate } from './tenant-gate.js'
import { sql, type SQL } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { classCostColumns, effectiveRatesSql, ratePointsCte, resolvedRatesSql } from '../pricing/cost-sql.js'
import { resourceCostColumns, unitPriceJoinSql } from '../pricing/resource-cost-sql.js'
import { PRICED_CLASSES, UNPRICED_BY_COST } from '../db/token-columns.js'
import { inCodePointOrder } from '../db/orm.js'
import { normalizeDecimal } from '../decimal/decimal-text.js'
import { FILTER_COLUMNS, filterValues, type UsageFilter } from './dimensions.js'
import type { Cost, ResourceQuantity, UsageTotals } from './run-usage.js'
import { checkListSizes, checkPageSize, checkTimeZone, lookupCard, queryHash } from './usage-service.js'
import { afterKey, decodeEventsCursor, encodeEventsCursor, EVENT_KEY_COLUMNS, EVENT_ORDER_SQL, type EventOrder, keyOf } from './events-cursor.js'
import { ArgProblems } from './arg-problems.js'
import { firstInstantSql, windowEndSql, windowStartSql } from './windows.js'

export interface EventArgs {
  tenantId: string
  from?: Date | null
  to?: Date | null
  period?: 'TODAY' | 'MONTH' | 'ALL' | null
  timeZone: string
  filter: UsageFilter
  orderBy: EventOrder
  rateCard: string
  first: number
  after?: string | null
}

const raw = (s: string) => sql.raw(s)
const sumOf = (cols: string[], prefix: string) => cols.map((c) => `${prefix}${c}`).join(' + ')
const byCost = (cost: string) => PRICED_CLASSES.filter((c) => c.cost === cost).map((c) => c.column)
const ALL = PRICED_CLASSES.map((c) => c.column)

/**
 * [from, to) as SQL: explicit bounds win; otherwise the period in the caller's time zone around `asOf`,
 * the first page's instant: every page of a listing is of one day (month), also when a later page is
 * read after midnight — then it listed the next day's events after the previous day's.
 */
function rangeSql(args: EventArgs, asOf: Date): { lower: SQL; upper: SQL } {
  if (args.from || args.to) {
    return {
      lower: args.from ? sql`${args.from.toISOString()}::timestamptz` : sql`'-infinity'::timestamptz`,
      upper: args.to ? sql`${args.to.toISOString()}::timestamptz` : sql`'infinity'::timestamptz`,
    }
  }
  const window = ({ TODAY: 'DAY', MONTH: 'MONTH' } as const)[args.period as 'TODAY' | 'MONTH']
  if (!window) return { lower: sql`'-infinity'::timestamptz`, upper: sql`'infinity'::timestamptz` }
  // The usage window holding asOf, and the rows it holds: from its first instant, which is an hour before
  // its start where a fall-back repeats the hour after midnight (America/Havana), to the next one's.
  const start = windowStartSql(window, sql`${asOf.toISOString()}::timestamptz`, args.timeZone, asOf)
  return {
    lower: firstInstantSql(start, args.timeZone),
    upper: firstInstantSql(windowEndSql(window, start, args.timeZone, asOf), args.timeZone),
  }
}

interface EventSqlRow {
  id: string
  timestamp: Date
  labels: Record<string, string>
  /** The row's sort key (EVENT_KEY_COLUMNS). */
  k_time: string
  k_unpriced: boolean
  k_cost: string
  [column: string]: unknown
}

const EVENT_CONSTANTS: Record<string, string> = { usage_type: `'completions'::text` }

/**
 * One page of events, holding one of the tenant's slots for expensive queries when a gate is given;
 * `signal` (the client disconnecting) cancels its statements.
 */
export async function queryEventsPage(db: Db, args: EventArgs, gate?: TenantGate, signal?: AbortSignal) {
  return gate ? gate.run(args.tenantId, () => runEventsPage(db, args, signal)) : runEventsPage(db, args, signal)
}

async function runEventsPage(db: Db, args: EventArgs, signal: AbortSignal | undefined) {
  const found = new ArgProblems()
  await checkTimeZone(db, args.timeZone, found)
  checkPageSize(args.first, found)
  checkListSizes(args, found)
  if (args.from && args.to && args.to <= args.from) found.add('to', '`to` must be later than `from`')
  const hash = queryHash(args)
  const cursor = args.after ? found.try(() => decodeEventsCursor(args.after!, hash, args.orderBy)) : undefined
  const card = found.orThrow(await lookupCard(db, args.tenantId, args.rateCard, found))
  const asOf = cursor?.asOf ?? new Date()
  const { lower, upper } = rangeSql(args, asOf)

  // Every page lists the events received by the first page's instant (events arrive all the time), each
  // page after the last row of the one before (events-cursor.ts).
  const where: SQL[] = [
    sql`tenant_id = ${args.tenantId}`,
    sql`timestamp >= ${lower}`,
    sql`timestamp < ${upper}`,
    sql`received_at <= ${asOf.toISOString()}::timestamptz`,
  ]
  for (const [key, column] of Object.entries(FILTER_COLUMNS)) {
    const values = filterValues(args.filter, key as keyof typeof FILTER_COLUMNS)
    // Events are completions usage.
    const eventColumn = EVENT_CONSTANTS[column] ?? column
    if (!values?.length) continue
    // An event is listed for `resources` when it has tokens and `tokens` is asked, or carries one of them.
    if (column === 'resource')
      where.push(sql`(('tokens' = any(${sql.param(values)}::text[]) and input_tokens + output_tokens > 0) or exists (
        select 1 from usage_event_resources x where x.tenant_id = e.tenant_id and x.timestamp = e.timestamp
          and x.event_id = e.id and x.resource = any(${sql.param(values)}::text[])))`)
    else where.push(sql`${raw(eventColumn)} = any(${sql.param(values)}::text[])`)
  }
  if (args.filter.batch !== undefined) where.push(sql`coalesce(batch, false) = ${args.filter.batch}`)

  const withClause = sql`with eff as (${effectiveRatesSql({ cardId: card.id, asOf })}),
    pts as (${ratePointsCte}),
    agg as (select e.*, provider as p_provider, model as p_model, service_tier as p_tier,
        coalesce(batch, false) as p_batch, context_tier as p_ctx, inference_geo as p_geo,
        (select arr from pts)[width_bucket(timestamp, (select arr from pts))] as t_rep
      from usage_events e where ${sql.join(where, sql` and `)}),
    resolved as materialized (${resolvedRatesSql()}),
    priced0 as (select a.*, ${classCostColumns('a', 'r')}, er.cost_resources, er.unpriced_quantity from agg a
      left join resolved r on r.p_provider = a.p_provider and r.p_model = a.p_model and r.p_tier = a.p_tier
        and r.p_batch = a.p_batch and r.p_ctx is not distinct from a.p_ctx and r.p_geo is not distinct from a.p_geo
        and r.t_rep is not distinct from a.t_rep
      left join lateral (${eventResourcesCostSql()}) er on true),
    priced as (select priced0.*,
        ${raw(sumOf(byCost('input'), 'c_'))} as cost_input, ${raw(sumOf(byCost('cachedInput'), 'c_'))} as cost_cached_input,
        ${raw(sumOf(byCost('cacheWrite'), 'c_'))} as cost_cache_write, ${raw(sumOf(byCost('output'), 'c_'))} as cost_output,
        ${raw(sumOf(ALL, 'c_'))} + cost_resources as cost_total, ${raw(sumOf(ALL, 'u_'))} as unpriced_tokens,
        ${raw(UNPRICED_BY_COST.map((u) => `${sumOf(byCost(u.field), 'u_')} as ${u.column}`).join(', '))},
        ${raw(sumOf(byCost('cachedInput'), ''))} as cached_input_tokens,
        ${raw(sumOf(byCost('input'), ''))} as uncached_input_tokens
      from priced0)`

  const [t] = await db.query<Record<string, string | number | null>>(sql`${withClause}
    select count(*)::int8 as requests, coalesce(sum(input_tokens), 0)::int8 as input_tokens,
      coalesce(sum(output_tokens), 0)::int8 as output_tokens,
      coalesce(sum(cached_input_tokens), 0)::int8 as cached_input_tokens,
      coalesce(sum(uncached_input_tokens), 0)::int8 as uncached_input_tokens,
      coalesce(sum(cache_write + cache_write_1h), 0)::int8 as cache_write_tokens,
      coalesce(sum(cache_write_1h), 0)::int8 as cache_write_1h_tokens,
      coalesce(sum(cost_total), 0)::text as cost_total, coalesce(sum(cost_input), 0)::text as cost_input,
      coalesce(sum(cost_cached_input), 0)::text as cost_cached_input,
      coalesce(sum(cost_cache_write), 0)::text as cost_cache_write,
      coalesce(sum(cost_output), 0)::text as cost_output, coalesce(sum(unpriced_tokens), 0)::int8 as unpriced_tokens,
      ${raw(UNPRICED_BY_COST.map((u) => `coalesce(sum(${u.column}), 0)::int8 as ${u.column}`).join(', '))},
      coalesce(sum(cost_resources), 0)::text as cost_resources,
      (select coalesce(json_agg(json_build_object('resource', u.resource, 'quantity', u.quantity::text) order by ${inCodePointOrder(sql`u.resource`)}), '[]'::json)
        from (select e ->> 'resource' as resource, sum((e ->> 'quantity')::numeric) as quantity
          from priced p, jsonb_array_elements(p.unpriced_quantity) e group by 1) u) as unpriced_quantity,
      sum(reported_cost)::text as reported_cost
    from priced`, [], { signal })
  const count = Number(t!.requests)
  // One row more than the page says whether another follows (with `first: 0`, whether any does). From
  // the start, `first: 0` needs no row: every counted event follows.
  const totalsOnly = args.first === 0 && !cursor?.key
  const fetched = count === 0 || totalsOnly
    ? []
    : await db.query<EventSqlRow>(sql`${withClause}
          select id, timestamp, model, provider, account_id, project_id, user_id, api_key_id, service_tier, context_tier, inference_geo, endpoint,
            request_type, session_id, employee_id, agent_id, batch, labels, metadata, input_tokens, output_tokens,
            (select coalesce(json_agg(json_build_object('resource', x.resource, 'quantity', x.quantity::text, 'attributes', x.attributes)
              order by x.position), '[]'::json) from usage_event_resources x
              where x.tenant_id = priced.tenant_id and x.timestamp = priced.timestamp and x.event_id = priced.id) as resources,
            cached_input_tokens::int8 as cached_input_tokens, uncached_input_tokens::int8 as uncached_input_tokens,
            cache_write + cache_write_1h as cache_write_tokens, cache_write_1h as cache_write_1h_tokens, cost_total::text as cost_total, cost_input::text as cost_input,
            cost_cached_input::text as cost_cached_input, cost_cache_write::text as cost_cache_write,
            cost_output::text as cost_output, unpriced_tokens::int8 as unpriced_tokens, reported_cost::text as reported_cost,
            ${raw(UNPRICED_BY_COST.map((u) => `${u.column}::int8 as ${u.column}`).join(', '))},
            cost_resources::text as cost_resources, unpriced_quantity, ${raw(EVENT_KEY_COLUMNS)}
          from priced ${cursor?.key ? sql`where ${afterKey(args.orderBy, cursor.key)}` : sql``}
          order by ${EVENT_ORDER_SQL[args.orderBy]} limit ${args.first + 1}`, [], { signal })
  const rows = fetched.slice(0, args.first)
  const last = rows.at(-1)
  const hasNextPage = totalsOnly ? count > 0 : fetched.length > rows.length

  const totals: UsageTotals = { ...countsOf(t!), requests: count, cost: costOf(t!, card.currency) }
  return {
    rows: rows.map((r) => ({
      id: r.id,
      timestamp: r.timestamp,
      model: r.model,
      provider: r.provider,
      accountId: r.account_id,
      projectId: r.project_id,
      userId: r.user_id,
      apiKeyId: r.api_key_id,
      serviceTier: r.service_tier,
      endpoint: r.endpoint,
      requestType: r.request_type,
      sessionId: r.session_id,
      employeeId: r.employee_id,
      agentId: r.agent_id,
      batch: r.batch,
      contextTier: r.context_tier,
      inferenceGeo: r.inference_geo,
      labels: sortedByKey(r.labels ?? {}),
      metadata: r.metadata,
      resources: ((r.resources ?? []) as { resource: string; quantity: string; attributes: Record<string, string> }[]).map((x) => ({
        resource: x.resource,
        quantity: normalizeDecimal(x.quantity),
        attributes: sortedByKey(x.attributes),
      })),
      ...countsOf(r),
      cost: costOf(r, card.currency),
    })),
    totals,
    hasNextPage,
    // A page with rows after it always has a cursor to them, even an empty one (`first: 0`).
    endCursor: last
      ? encodeEventsCursor(hash, asOf, keyOf(args.orderBy, last))
      : hasNextPage ? encodeEventsCursor(hash, asOf, cursor?.key) : null,
  }
}

function countsOf(r: Record<string, unknown>) {
  return {
    inputTokens: Number(r.input_tokens),
    outputTokens: Number(r.output_tokens),
    cachedInputTokens: Number(r.cached_input_tokens),
    uncachedInputTokens: Number(r.uncached_input_tokens),
    cacheWriteTokens: Number(r.cache_write_tokens),
    cacheWrite1hTokens: Number(r.cache_write_1h_tokens ?? 0),
    reportedCost: r.reported_cost === null || r.reported_cost === undefined ? null : normalizeDecimal(String(r.reported_cost)),
  }
}

function costOf(r: Record<string, unknown>, currency: string): Cost {
  const unpriced = Number(r.unpriced_tokens)
  const unpricedQuantity = ((r.unpriced_quantity ?? []) as ResourceQuantity[]).map((u) => ({ resource: u.resource, quantity: normalizeDecimal(u.quantity) }))
  return {
    total: normalizeDecimal(String(r.cost_total)),
    input: normalizeDecimal(String(r.cost_input)),
    cachedInput: normalizeDecimal(String(r.cost_cached_input)),
    cacheWrite: normalizeDecimal(String(r.cost_cache_write)),
    output: normalizeDecimal(String(r.cost_output)),
    resources: normalizeDecimal(String(r.cost_resources ?? '0')),
    currency,
    complete: unpriced === 0 && unpricedQuantity.length === 0,
    unpricedTokens: unpriced,
    unpricedTokensByClass: Object.fromEntries(UNPRICED_BY_COST.map((u) => [u.field, Number(r[u.column])])) as Cost['unpricedTokensByClass'],
    unpricedQuantity,
  }
}

/**
 * A string map as `[Label!]`, sorted by key in code-point order, as the database's lists are. Neither the stored jsonb's key order (shorter keys first) nor a parsed
 * object's (integer-like keys first, in numeric order) is that order; localeCompare is the host's locale's.
 */
function sortedByKey(map: Record<string, string>): { key: string; value: string }[] {
  return Object.entries(map)
    .sort(([a], [b]) => compareCodePoints(a, b))
    .map(([key, value]) => ({ key, value }))
}

/**
 * The cost of one event's resources (joined laterally to event `a` and its rate `r`): each priced like
 * a resource row of `usage`, summed, with the unpriced quantity per resource.
 */
function eventResourcesCostSql(): SQL {
  return sql`select coalesce(sum(x.c_res), 0) as cost_resources,
      coalesce(jsonb_agg(jsonb_build_object('resource', x.resource, 'quantity', x.u_q::text) order by ${inCodePointOrder(sql`x.resource`)}) filter (where x.u_q > 0), '[]'::jsonb)
        as unpriced_quantity
    from (select er.resource, sum(er.c_res) as c_res, sum(er.u_q) as u_q from (
        select res.resource, ${resourceCostColumns('res', 'r')}
        from (select resource, attributes, quantity, 0::numeric as byte_seconds from usage_event_resources
          where tenant_id = a.tenant_id and timestamp = a.timestamp and event_id = a.id) res
        ${unitPriceJoinSql('res', 'r')}) er group by er.resource) x`
}
