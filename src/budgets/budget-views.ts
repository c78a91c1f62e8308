import type { Db } from '../db/client.js'
import { databaseNow, listBudgets } from '../db/queries/budgets.js'
import { normalizeDecimal } from '../decimal/decimal-text.js'
import type { UsageLimits } from '../usage/usage-service.js'
import { toBudget } from './budget-model.js'
import { budgetStatus, type BudgetStatus } from './status.js'

export interface BudgetView extends BudgetStatus {
  name: string
  amount: string
  period: string
  timeZone: string
  rateCard: string
  thresholds: number[]
}

/**
 * GraphQL's `budgets`: every budget of the tenant as it stands at `at` (default: the database's clock, as
 * REST's). Never carries the webhook secret.
 */
export async function listBudgetViews(db: Db, tenantId: string, asked: Date | undefined, limits: UsageLimits): Promise<BudgetView[]> {
  const at = asked ?? (await databaseNow(db))
  const views: BudgetView[] = []
  for (const row of await listBudgets(db, tenantId)) {
    const budget = toBudget(row)
    views.push({
      name: budget.name,
      amount: normalizeDecimal(budget.amount),
      period: budget.period,
      timeZone: budget.timeZone,
      rateCard: budget.rateCard,
      thresholds: budget.thresholds,
      ...(await budgetStatus(db, budget, at, limits)),
    })
  }
  return views
}
