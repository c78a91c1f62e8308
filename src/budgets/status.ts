import type { Db } from '../db/client.js'
import { recordedThresholds } from '../db/queries/budgets.js'
import type { UsageLimits } from '../usage/usage-service.js'
import type { Budget } from './budget-model.js'
import { CALENDAR_WINDOW, periodAt, windowsCovering, type Span } from './periods.js'
import { forecast, percentUsed, thresholdsMet } from './ratios.js'
import { spendOver } from './spend.js'

export interface BudgetStatus {
  spent: string
  forecast: string
  percentUsed: string
  periodStart: Date
  periodEnd: Date
  /** The budget's thresholds crossed in this period by `at`: recorded as alerts by then that stand at its amount, or reached by the spend up to it. */
  crossed: number[]
  complete: boolean
  currency: string
}

/**
 * The period's rows that start at or before `at` (instants are whole milliseconds): a past `at` shows
 * the spend as it stood then, not the whole period's — and a rolling period already ends at `at`.
 */
function rowsUpTo(rows: Span, at: Date): Span {
  return { start: rows.start, end: new Date(Math.min(rows.end.getTime(), at.getTime() + 1)) }
}

/**
 * A budget as it stands at `at` (default now): computed from the ledger, nothing kept. Its spend is a
 * usage query, so a read holds one of the tenant's slots (`limits.gate`) like `usage` does.
 */
export async function budgetStatus(db: Db, budget: Budget, at: Date, limits: UsageLimits): Promise<BudgetStatus> {
  const period = await periodAt(db, budget.period, budget.timeZone, at)
  const total = await spendOver(db, budget, rowsUpTo(period.rows, at), limits)
  const rolling = CALENDAR_WINDOW[budget.period] === undefined
  // Alerts of a rolling budget are keyed by the local day they were detected.
  const alertPeriod = rolling ? await windowsCovering(db, 'DAY', budget.timeZone, at, at) : period
  const recorded = new Set(await recordedThresholds(db, { tenant_id: budget.tenantId, id: budget.id, amount: budget.amount }, alertPeriod, at))
  const met = new Set(thresholdsMet(total.spent, budget.amount, budget.thresholds))
  // The budget's own thresholds only: one removed from it is no longer crossed, whatever was recorded.
  const crossed = budget.thresholds.filter((t) => recorded.has(t) || met.has(t))
  return {
    spent: total.spent,
    forecast: forecast(total.spent, period, at, rolling),
    percentUsed: percentUsed(total.spent, budget.amount),
    periodStart: period.start,
    periodEnd: period.end,
    crossed,
    complete: total.complete,
    currency: total.currency,
  }
}
