import type { BudgetRow } from '../db/queries/budgets.js'
import type { UsageFilter } from '../usage/dimensions.js'
import type { Period } from './periods.js'
import type { BudgetScope } from './spend.js'

/** A stored budget in the query layer's terms. */
export interface Budget extends BudgetScope {
  id: string
  name: string
  amount: string
  period: Period
  thresholds: number[]
  webhookUrl: string | null
}

export function toBudget(row: BudgetRow): Budget {
  return {
    tenantId: row.tenant_id,
    id: row.id,
    name: row.name,
    amount: row.amount,
    period: row.period as Period,
    timeZone: row.time_zone,
    filter: row.filter as UsageFilter,
    rateCard: row.rate_card,
    thresholds: [...row.thresholds].sort((a, b) => a - b),
    webhookUrl: row.webhook_url,
  }
}
