import type { UsageFilter } from '../usage/dimensions.js'

/** Contract v2 "Billed costs and reconciliation": the dimensions a reconciliation groups by. */
export const RECON_DIMENSIONS = ['PROVIDER', 'ACCOUNT', 'PROJECT', 'API_KEY', 'MODEL', 'LINE_ITEM'] as const
export type ReconDimension = (typeof RECON_DIMENSIONS)[number]

/** Billed costs are UTC days, so nothing finer than a day is reconciled. */
export const RECON_WINDOWS = ['DAY', 'WEEK', 'MONTH', 'TOTAL'] as const
export type ReconWindow = (typeof RECON_WINDOWS)[number]

/** Statuses in the order they are tested: the first that applies. */
export const RECON_STATUSES = ['BILLED_ONLY', 'COMPUTED_ONLY', 'UNPRICED', 'MATCH', 'MISMATCH'] as const
export type ReconStatus = (typeof RECON_STATUSES)[number]

export interface ReconArgs {
  tenantId: string
  from: Date
  to: Date
  window: string
  groupBy: ReconDimension[]
  filter: UsageFilter
  rateCard: string
  pricingAsOf?: Date | undefined
  tolerance: string
  first: number
  after?: string | undefined
}

export interface ReconRow {
  windowStart: Date
  windowEnd: Date
  provider: string | null
  accountId: string | null
  projectId: string | null
  apiKeyId: string | null
  model: string | null
  lineItem: string | null
  computed: string | null
  billed: string | null
  difference: string | null
  status: ReconStatus
  unpricedTokens: number
  /** False when some usage of the group has no price (tokens or resource quantities): `computed` is a lower bound. */
  complete: boolean
  billedUnitPrice: string | null
  cardUnitPrice: string | null
}

export interface ReconTotals {
  computed: string
  billed: string
  difference: string
  unpricedTokens: number
  /** Every row complete. */
  complete: boolean
}

export interface ReconPage {
  rows: ReconRow[]
  totals: ReconTotals
  hasNextPage: boolean
  endCursor: string | null
  /** The usage sources the computed side counted (as `usage` reports them). */
  sources: string[]
  /** The pricing instant (pricingAsOf, or the first page's now), so later pages price alike. */
  pricingAsOf: Date
}

/**
 * One side's contribution before grouping: a priced usage row (or one token class of it, by line item)
 * or an aggregated billed row. `item` is the line-item match key: `c|model|class|tier|batch|context`
 * (or `["r", model, resource, …]`) for an item the ledger computes, `t|<text>` for one it cannot map.
 */
export interface ReconFact {
  side: 'computed' | 'billed'
  windowStart: Date
  windowEnd: Date
  provider: string
  accountId: string | null
  projectId: string | null
  apiKeyId: string | null
  model: string | null
  /** `perUnit`: a resource item (unit prices per unit); otherwise a token class (per 1M tokens). */
  item: { key: string; text: string; priced: boolean; perUnit: boolean } | null
  amount: string
  unpricedTokens: number
  /** Computed: some resource quantity of the fact had no unit price. */
  unpricedQuantity: boolean
  /** Computed line items: the priced tokens (or resource quantity) of the item; otherwise null. */
  priced: string | null
  /** Billed: the reported quantity (null when not reported) and its unit. */
  quantity: string | null
  quantityUnit: string | null
  /** Billed: the latest end of the fact's bills (past `windowEnd` when a bill crosses the window's end). */
  periodEnd?: Date
}
