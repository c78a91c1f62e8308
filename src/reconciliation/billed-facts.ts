import { sql, type SQL } from 'drizzle-orm'
import { anthropicClass, anthropicItemText, anthropicResource, parseModellessResourceItem, parseOpenAILineItem } from '../billing/line-items.js'
import { LONGEST_BILL_MS } from '../billing/billed-row.js'
import type { Db } from '../db/client.js'
import { filterValues, type UsageFilter } from '../usage/dimensions.js'
import { windowEndSql, windowStartSql, type Window } from '../usage/windows.js'
import { itemKey, resourceKey } from './computed-facts.js'
import type { ReconFact } from './recon-types.js'

/**
 * The billed side: stored billed costs in [from, to) by their start_time, in the same UTC windows as the
 * usage query layer (its window SQL), summed per window and stored dimensions. Filters that billed
 * costs carry (providers, accounts, projects, API keys, models, tiers, batch, context tiers, geos) apply;
 * the others concern usage only.
 */

interface BilledAggregate {
  window_start: Date
  window_end: Date
  provider: string
  account_id: string | null
  project_id: string | null
  api_key_id: string | null
  model: string | null
  line_item: string | null
  token_type: string | null
  cost_type: string | null
  service_tier: string | null
  batch: boolean | null
  context_tier: string | null
  amount: string
  quantity: string | null
  quantity_unit: string | null
  /** The latest end_time of the group's bills: past window_end when a bill crosses the window's end. */
  period_end: Date
  n: number
}

const FILTERS = [
  ['providers', 'provider'],
  ['accountIds', 'account_id'],
  ['projectIds', 'project_id'],
  ['apiKeyIds', 'api_key_id'],
  ['models', 'model'],
  ['serviceTiers', 'service_tier'],
  ['contextTiers', 'context_tier'],
  ['inferenceGeos', 'inference_geo'],
] as const

const KEYS = 'provider, account_id, project_id, api_key_id, model, line_item, token_type, cost_type, service_tier, batch, context_tier, quantity_unit'

/** A billed row's line item: a token class the ledger computes, or its text kept (unmapped). */
function billedItem(r: BilledAggregate): ReconFact['item'] {
  const tier = r.service_tier ?? 'default'
  const batch = r.batch === true
  if (r.token_type !== null || r.cost_type !== null || r.provider === 'anthropic') {
    const column = anthropicClass(r.token_type)
    if (column) return { key: itemKey(r.model, column, tier, batch, r.context_tier), text: anthropicItemText(r.token_type!, tier, batch), priced: true, perUnit: false }
    const resource = anthropicResource(r.cost_type)
    if (resource) return { key: resourceKey(r.model, resource, tier, batch), text: anthropicItemText(r.cost_type!, tier, batch), priced: true, perUnit: true }
    const text = r.line_item ?? r.cost_type ?? r.token_type
    return text === null ? null : { key: `t|${text}`, text, priced: false, perUnit: false }
  }
  if (r.line_item === null) return null
  const p = parseOpenAILineItem(r.line_item)
  if (p?.column) return { key: itemKey(p.model, p.column, p.serviceTier, p.batch, r.context_tier), text: r.line_item, priced: true, perUnit: false }
  if (p) return { key: resourceKey(p.model, p.item, p.serviceTier, p.batch), text: r.line_item, priced: true, perUnit: true }
  // The resource alone: usage reported without a model (its billed row has no model either).
  const bare = parseModellessResourceItem(r.line_item)
  if (bare) return { key: resourceKey(null, bare.resource, bare.serviceTier, bare.batch), text: r.line_item, priced: true, perUnit: true }
  return { key: `t|${r.line_item}`, text: r.line_item, priced: false, perUnit: false }
}

/** The filters billed costs carry, as SQL conditions (besides the tenant's). */
function filterConditions(filter: UsageFilter): SQL[] {
  const where: SQL[] = []
  for (const [field, column] of FILTERS) {
    const values = filterValues(filter, field)
    if (values?.length) where.push(sql`${sql.raw(column)} = any(${sql.param(values)}::text[])`)
  }
  // As the usage side reads it (facts-sql.ts): a cost whose line item says nothing of batch is not batch.
  if (filter.batch !== undefined) where.push(sql`coalesce(batch, false) = ${filter.batch}`)
  return where
}

/**
 * How many times the range is widened at most: a bill that crosses a widened edge widens it again (bills
 * of one provider account never overlap one another, so it takes accounts on different grids — a day in
 * Los Angeles beside a UTC day — to chain; each step is at most LONGEST_BILL_MS).
 */
const WIDENING_STEPS = 8

/**
 * The range widened to the whole periods of the bills that cross its edges, until no bill crosses them
 * (at most WIDENING_STEPS steps): a bill that starts before `from` and ends after it, one that starts
 * before `to` and ends after it. Bills are at most LONGEST_BILL_MS long (refused at ingest beyond it), so
 * each lookup reads that far back from its edge — a range of the natural-key index (tenant_id, start_time) —
 * and a longer bill stored before the bound is not widened to. Both sides are then read over the same
 * instants: a bill of a day in another zone (08:00Z to 08:00Z) at the range's start was left out while its
 * usage after `from` was counted, and at its end was set against part of its usage.
 *
 * One statement per step, each looking only at the edges that moved (usually one step, two with a crossing
 * bill): a single recursive statement was estimated far above PostgreSQL's jit_above_cost and spent ~60 ms
 * compiling on every reconciliation for a lookup of a millisecond.
 */
export async function billedRange(
  db: Db,
  q: { tenantId: string; from: Date; to: Date; filter: UsageFilter; signal?: AbortSignal | undefined },
): Promise<{ from: Date; to: Date }> {
  const where = sql.join([sql`tenant_id = ${q.tenantId}`, ...filterConditions(q.filter)], sql` and `)
  const longest = sql`make_interval(secs => ${LONGEST_BILL_MS / 1000})`
  const crossing = (edge: Date) => {
    const at = sql`${edge.toISOString()}::timestamptz`
    return sql`${where} and start_time >= ${at} - ${longest} and start_time < ${at} and end_time > ${at} and end_time <= start_time + ${longest}`
  }
  let [from, to] = [q.from, q.to]
  let [fromMoved, toMoved] = [true, true]
  for (let step = 0; step < WIDENING_STEPS && (fromMoved || toMoved); step++) {
    const [edges] = await db.query<{ first: Date | null; last: Date | null }>(
      sql`select
          ${fromMoved ? sql`(select min(start_time) from billed_costs where ${crossing(from)})` : sql`null::timestamptz`} as first,
          ${toMoved ? sql`(select max(end_time) from billed_costs where ${crossing(to)})` : sql`null::timestamptz`} as last`,
      [],
      { signal: q.signal },
    )
    fromMoved = Boolean(edges?.first)
    toMoved = Boolean(edges?.last)
    if (edges?.first) from = new Date(edges.first)
    if (edges?.last) to = new Date(edges.last)
  }
  return { from, to }
}

export async function billedFacts(
  db: Db,
  q: { tenantId: string; from: Date; to: Date; window: Window; filter: UsageFilter; maxGroups: number; onTooLarge: (n: number) => Error; signal?: AbortSignal | undefined },
): Promise<ReconFact[]> {
  const where: SQL[] = [
    sql`tenant_id = ${q.tenantId}`,
    sql`start_time >= ${q.from.toISOString()}::timestamptz`,
    sql`start_time < ${q.to.toISOString()}::timestamptz`,
    ...filterConditions(q.filter),
  ]
  const start = windowStartSql(q.window, sql`start_time`, 'UTC', q.from)
  const rows = await db.query<BilledAggregate>(
    sql`with g as (select ${start} as w, ${sql.raw(KEYS)}, sum(amount) as amount, max(end_time) as period_end,
          case when count(quantity) = count(*) then sum(quantity) end as quantity
        from billed_costs where ${sql.join(where, sql` and `)}
        group by 1, ${sql.raw(KEYS)})
      select w as window_start, ${windowEndSql(q.window, sql`w`, 'UTC', q.to)} as window_end, ${sql.raw(KEYS)},
        amount::text as amount, quantity::text as quantity, period_end, count(*) over ()::int8 as n
      from g limit ${q.maxGroups + 1}`,
    [],
    { signal: q.signal },
  )
  if (rows.length > q.maxGroups) throw q.onTooLarge(rows[0]!.n)
  return rows.map((r) => ({
    side: 'billed',
    windowStart: new Date(r.window_start),
    windowEnd: new Date(r.window_end),
    provider: r.provider,
    accountId: r.account_id,
    projectId: r.project_id,
    apiKeyId: r.api_key_id,
    model: r.model,
    item: billedItem(r),
    amount: r.amount,
    unpricedTokens: 0,
    unpricedQuantity: false,
    priced: null,
    quantity: r.quantity,
    quantityUnit: r.quantity_unit,
    periodEnd: new Date(r.period_end),
  }))
}
