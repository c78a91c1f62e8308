import { Decimal } from 'decimal.js'
import { PRICED_CLASSES } from '../../pricing/token-classes.js'
import { normalizeDecimal } from '../../usage/decimal.js'
import type { UsageRow } from '../../usage/run-usage.js'
import { csvLine, isoSeconds } from './csv.js'
import type { BucketRows } from './report.js'

export interface CostsResult {
  object: 'organization.costs.result'
  amount: { value: number | null; value_exact: string | null; currency: string }
  line_item: string | null
  project_id: string | null
  api_key_id: string | null
  quantity: number
  quantity_unit: 'tokens'
  complete: boolean
  unpriced_tokens: number
}

/** Name of usage whose model is unknown (OpenAI pages not grouped by model): always unpriced. */
export const UNKNOWN_MODEL = 'unknown model'

/** `, flex` / `, batch` where the rate key is not the default one. */
function suffix(row: UsageRow): string {
  const tier = row.serviceTier as string | null
  return `${tier && tier !== 'default' ? `, ${tier}` : ''}${row.batch === true ? ', batch' : ''}`
}

function result(row: UsageRow, currency: string, lineItem: string | null, quantity: number, cost: string | null, unpriced: number): CostsResult {
  return {
    object: 'organization.costs.result',
    // A JSON number for clients typed for OpenAI; the exact decimal is value_exact.
    amount: { value: cost === null ? null : Number(cost), value_exact: cost, currency },
    line_item: lineItem,
    project_id: (row.projectId as string | null | undefined) ?? null,
    api_key_id: (row.apiKeyId as string | null | undefined) ?? null,
    quantity,
    quantity_unit: 'tokens',
    complete: unpriced === 0,
    unpriced_tokens: unpriced,
  }
}

/** One line item per priced token class, then `<model>, unpriced` for every token no rate priced. */
function lineItems(row: UsageRow, currency: string): CostsResult[] {
  const model = (row.model as string | null) ?? UNKNOWN_MODEL
  const out: CostsResult[] = []
  let unpriced = 0
  for (const c of PRICED_CLASSES) {
    const u = row.classes![c.column]
    unpriced += u.unpricedTokens
    const priced = u.tokens - u.unpricedTokens
    if (priced > 0) out.push(result(row, currency, `${model}, ${c.lineItem}${suffix(row)}`, priced, u.cost, 0))
  }
  if (unpriced > 0) out.push(result(row, currency, `${model}, unpriced${suffix(row)}`, unpriced, null, unpriced))
  return out
}

/**
 * Stored `batch: null` and `false` are both priced as non-batch, so they name the same line item:
 * such items are merged (exact decimal sums), keeping first-appearance order.
 */
function merge(items: CostsResult[]): CostsResult[] {
  const byKey = new Map<string, CostsResult>()
  for (const item of items) {
    const key = JSON.stringify([item.project_id, item.api_key_id, item.line_item])
    const prev = byKey.get(key)
    if (!prev) {
      byKey.set(key, item)
      continue
    }
    const exact =
      prev.amount.value_exact === null || item.amount.value_exact === null
        ? null
        : normalizeDecimal(new Decimal(prev.amount.value_exact).plus(item.amount.value_exact).toFixed())
    prev.amount = { value: exact === null ? null : Number(exact), value_exact: exact, currency: prev.amount.currency }
    prev.quantity += item.quantity
    prev.unpriced_tokens += item.unpriced_tokens
    prev.complete = prev.unpriced_tokens === 0
  }
  return [...byKey.values()]
}

export function costsResults(bucket: BucketRows, currency: string, byLineItem: boolean): CostsResult[] {
  if (!byLineItem)
    return bucket.rows.map((row) =>
      result(row, currency, null, row.inputTokens + row.outputTokens, row.cost.total, row.cost.unpricedTokens),
    )
  return merge(bucket.rows.flatMap((row) => lineItems(row, currency)))
}

/** The dashboard cost export's columns in its order; trailing extras carry the tokenledger fields. */
export const COSTS_CSV_COLUMNS = [
  'start_time', 'end_time', 'start_time_iso', 'end_time_iso', 'amount_value', 'amount_currency', 'line_item',
  'project_id', 'organization_id', 'organization_name', 'api_key_id', 'quantity', 'quantity_unit', 'complete',
  'unpriced_tokens',
] as const

export function costsCsvLines(
  bucket: BucketRows,
  currency: string,
  byLineItem: boolean,
  org: { id: string; name: string },
): string {
  const times = [bucket.start, bucket.end, isoSeconds(bucket.start), isoSeconds(bucket.end)]
  const results = costsResults(bucket, currency, byLineItem)
  if (!results.length) return csvLine([...times, null, null, null, null, org.id, org.name, null, null, null, null, null])
  return results
    .map((r) =>
      csvLine([
        ...times,
        r.amount.value_exact,
        r.amount.currency,
        r.line_item,
        r.project_id,
        org.id,
        org.name,
        r.api_key_id,
        r.quantity,
        r.quantity_unit,
        r.complete ? 'true' : 'false',
        r.unpriced_tokens,
      ]),
    )
    .join('')
}
