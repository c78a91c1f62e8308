import { computedLineItem, computedResourceItem, type ClassColumn } from '../billing/line-items.js'
import type { Db } from '../db/client.js'
import { PRICED_CLASSES } from '../db/token-columns.js'
import type { Dimension, UsageFilter } from '../usage/dimensions.js'
import type { UsageRow } from '../usage/run-usage.js'
import { MAX_PAGE_SIZE, queryUsagePage, type UsageLimits } from '../usage/usage-service.js'
import type { Window } from '../usage/windows.js'
import type { ReconDimension, ReconFact } from './recon-types.js'

/**
 * The computed side: the ledger's usage priced by the shared query layer — the very `queryUsagePage`
 * that GraphQL `usage` and the REST mirrors run, so reconciliation can never price differently. With
 * LINE_ITEM, the per-class breakdown the costs mirror uses (`classes`) splits each row into items.
 */

/** The line-item match key of a token class of a model at a tier (the billed side builds the same). */
export function itemKey(model: string | null, column: ClassColumn, serviceTier: string, batch: boolean, contextTier: string | null): string {
  return JSON.stringify(['c', model, column, serviceTier, batch, contextTier])
}

/** The match key of a resource of a model at a tier (attributes and context tier summed over: bills do not split by them). */
export function resourceKey(model: string | null, resource: string, serviceTier: string, batch: boolean): string {
  return JSON.stringify(['r', model, resource, serviceTier, batch])
}

const USAGE_DIMENSIONS: Record<ReconDimension, Dimension[]> = {
  PROVIDER: ['PROVIDER'],
  ACCOUNT: ['ACCOUNT'],
  PROJECT: ['PROJECT'],
  API_KEY: ['API_KEY'],
  MODEL: ['MODEL'],
  // The keys that decide a rate, hence name a provider's line item.
  LINE_ITEM: ['MODEL', 'SERVICE_TIER', 'BATCH', 'CONTEXT_TIER', 'RESOURCE'],
}

export interface ComputedQuery {
  tenantId: string
  from: Date
  to: Date
  window: Window
  groupBy: ReconDimension[]
  filter: UsageFilter
  rateCard: string
  asOf: Date
  /** Group by account as well (facts then carry it), whatever `groupBy` says: windows are joined per account. */
  byAccount?: boolean
}

export interface ComputedFacts {
  facts: ReconFact[]
  sources: string[]
}

/**
 * `modalities`: with LINE_ITEM, the modality filter applied to the rows' token classes (the query layer
 * cannot split a row by class and by modality at once); as with `usage`, resources then have none.
 */
function rowFacts(row: UsageRow, lineItems: boolean, modalities?: readonly string[]): ReconFact[] {
  const base = {
    side: 'computed' as const,
    windowStart: row.windowStart,
    windowEnd: row.windowEnd,
    provider: row.provider as string,
    accountId: (row.accountId as string | null | undefined) ?? null,
    projectId: (row.projectId as string | null | undefined) ?? null,
    apiKeyId: (row.apiKeyId as string | null | undefined) ?? null,
    model: (row.model as string | null | undefined) ?? null,
    quantity: null,
    quantityUnit: null,
  }
  const unpricedQuantity = row.cost.unpricedQuantity.length > 0
  if (!lineItems) return [{ ...base, item: null, amount: row.cost.total, unpricedTokens: row.cost.unpricedTokens, unpricedQuantity, priced: null }]
  const tier = (row.serviceTier as string | null) ?? 'default'
  const batch = row.batch === true
  const context = (row.contextTier as string | null | undefined) ?? null
  const resource = row.resource as string
  if (resource !== 'tokens' && modalities) return []
  if (resource !== 'tokens') {
    const key = resourceKey(base.model, resource, tier, batch)
    const text = computedResourceItem(base.provider, base.model, resource, tier, batch)
    return [{ ...base, item: { key, text, priced: true, perUnit: true }, amount: row.cost.resources, unpricedTokens: 0, unpricedQuantity, priced: unpricedQuantity ? null : row.quantity }]
  }
  return PRICED_CLASSES.filter((c) => row.classes![c.column].tokens > 0 && (!modalities || modalities.includes(c.modality))).map((c) => {
    const u = row.classes![c.column]
    return {
      ...base,
      item: { key: itemKey(base.model, c.column, tier, batch, context), text: computedLineItem(base.provider, base.model, c.column, tier, batch), priced: true, perUnit: false },
      amount: u.cost,
      unpricedTokens: u.unpricedTokens,
      unpricedQuantity: false,
      priced: String(u.tokens - u.unpricedTokens),
    }
  })
}

/** Every computed row of the range (all of the query layer's pages), as facts. */
export async function computedFacts(db: Db, q: ComputedQuery, limits: UsageLimits): Promise<ComputedFacts> {
  const lineItems = q.groupBy.includes('LINE_ITEM')
  // Always by provider: a line item's name depends on it, and billed rows always carry it.
  const groupBy = [...new Set<Dimension>(['PROVIDER', ...(q.byAccount ? ['ACCOUNT' as const] : []), ...q.groupBy.flatMap((d) => USAGE_DIMENSIONS[d])])]
  // A per-class breakdown does not combine with the query layer's modality split: the filter is applied
  // to the classes here instead (a 500 before).
  const { modalities: listed, ...unsplit } = q.filter
  const modalities = lineItems && listed?.length ? listed : undefined
  const filter = modalities ? unsplit : q.filter
  const facts: ReconFact[] = []
  let after: string | undefined
  for (;;) {
    const page = await queryUsagePage(
      db,
      {
        tenantId: q.tenantId,
        from: q.from,
        to: q.to,
        window: q.window,
        timeZone: 'UTC',
        groupBy,
        groupByLabels: [],
        filter,
        rateCard: q.rateCard,
        pricingAsOf: q.asOf,
        first: MAX_PAGE_SIZE,
        after,
        classes: lineItems,
      },
      limits,
    )
    for (const row of page.rows) facts.push(...rowFacts(row, lineItems, modalities))
    if (!page.hasNextPage || !page.endCursor) return { facts, sources: page.sources }
    after = page.endCursor
  }
}
