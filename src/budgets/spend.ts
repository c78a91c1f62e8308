import type { Db } from '../db/client.js'
import type { UsageFilter } from '../usage/dimensions.js'
import { queryUsagePage, type UsageArgs, type UsageLimits } from '../usage/usage-service.js'
import type { Window } from '../usage/windows.js'
import type { Span } from './periods.js'

/** What a budget measures: a usage query without its range. */
export interface BudgetScope {
  tenantId: string
  filter: UsageFilter
  rateCard: string
  timeZone: string
}

export interface WindowSpend extends Span {
  spent: string
  complete: boolean
}

const args = (b: BudgetScope, range: Span, window: Window, first: number, after?: string): UsageArgs => ({
  tenantId: b.tenantId,
  from: range.start,
  to: range.end,
  window,
  timeZone: b.timeZone,
  groupBy: [],
  groupByLabels: [],
  filter: b.filter,
  rateCard: b.rateCard,
  first,
  after,
})

/**
 * Spend in each local window (a calendar period) of `range` that has usage, from the one usage query
 * layer and its pricing — the same numbers `usage` answers for that filter, window and time zone.
 */
export async function spendByWindow(db: Db, b: BudgetScope, window: Window, range: Span, maxGroups: number): Promise<WindowSpend[]> {
  const out: WindowSpend[] = []
  let after: string | undefined
  do {
    const page = await queryUsagePage(db, args(b, range, window, 1000, after), { maxGroups })
    for (const r of page.rows) out.push({ start: r.windowStart, end: r.windowEnd, spent: r.cost.total, complete: r.cost.complete })
    after = page.hasNextPage ? (page.endCursor ?? undefined) : undefined
  } while (after)
  return out
}

/**
 * Spend over the whole range (window TOTAL). A read for a tenant's request passes the tenant's gate in
 * `limits`, so it holds one of the slots a usage query holds; the evaluator (no request) passes none.
 */
export async function spendOver(db: Db, b: BudgetScope, range: Span, limits: UsageLimits): Promise<WindowSpend & { currency: string }> {
  const page = await queryUsagePage(db, args(b, range, 'TOTAL', 1), limits)
  const cost = page.totals.cost
  return { ...range, spent: cost.total, complete: cost.complete, currency: cost.currency }
}
