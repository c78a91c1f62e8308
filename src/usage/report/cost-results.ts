import { Exact } from '../../decimal/exact.js'
import { PRICED_CLASSES } from '../../db/token-columns.js'
import { normalizeDecimal } from '../../decimal/decimal-text.js'
import type { CostsResult } from '../../billing/costs-result.js'
import type { UsageRow } from '../run-usage.js'
import { csvLine, isoSeconds } from './csv-lines.js'
import type { BucketRows } from './report.js'
import { ownValue } from '../../own-key.js'

/** OpenAI's `quantity_unit` for a resource (contract v2); other resources are their own unit. */
const QUANTITY_UNITS: Record<string, string> = {
  audio_seconds: 'duration_seconds',
  storage_bytes: 'gibibyte_hours',
  images: 'images',
  characters: 'characters',
}
const quantityUnit = (resource: string) => ownValue(QUANTITY_UNITS, resource) ?? resource
const isTokens = (row: UsageRow) => row.resource === undefined || row.resource === null || row.resource === 'tokens'

/** Name of usage whose model is unknown (OpenAI pages not grouped by model): always unpriced. */
const UNKNOWN_MODEL = 'unknown model'

/** `, flex` / `, batch` where the rate key is not the default one. */
function suffix(row: UsageRow): string {
  const tier = row.serviceTier as string | null
  return `${tier && tier !== 'default' ? `, ${tier}` : ''}${row.batch === true ? ', batch' : ''}`
}

function result(
  row: UsageRow,
  currency: string,
  lineItem: string | null,
  quantity: { exact: string; unit: string },
  cost: string | null,
  unpriced: number,
  complete = unpriced === 0,
): CostsResult {
  return {
    object: 'organization.costs.result',
    // A JSON number for clients typed for OpenAI; the exact decimal is value_exact.
    amount: { value: cost === null ? null : Number(cost), value_exact: cost, currency },
    line_item: lineItem,
    project_id: (row.projectId as string | null | undefined) ?? null,
    api_key_id: (row.apiKeyId as string | null | undefined) ?? null,
    quantity: Number(quantity.exact),
    quantity_exact: quantity.exact,
    quantity_unit: quantity.unit,
    complete,
    unpriced_tokens: unpriced,
  }
}

const tokens = (n: number) => ({ exact: String(n), unit: 'tokens' })

/**
 * A resource row's line items: `"<model>, <resource>"` (the resource alone when the model is null) for
 * the priced quantity, and `"…, unpriced"` with no amount for the quantity no unit price covered.
 */
function resourceItems(row: UsageRow, currency: string): CostsResult[] {
  const resource = row.resource as string
  const name = `${row.model ? `${row.model as string}, ` : ''}${resource}`
  const unit = quantityUnit(resource)
  const all = new Exact(row.quantity ?? 0)
  const unpriced = row.cost.unpricedQuantity.filter((u) => u.resource === resource).reduce((a, u) => a.plus(u.quantity), new Exact(0))
  const priced = all.minus(unpriced)
  const out: CostsResult[] = []
  if (priced.gt(0) || unpriced.isZero())
    out.push(result(row, currency, `${name}${suffix(row)}`, { exact: normalizeDecimal(priced.toFixed()), unit }, row.cost.resources, 0))
  if (unpriced.gt(0))
    out.push(result(row, currency, `${name}, unpriced${suffix(row)}`, { exact: normalizeDecimal(unpriced.toFixed()), unit }, null, 0, false))
  return out
}

/** One line item per priced token class, then `<model>, unpriced` for every token no rate priced. */
function lineItems(row: UsageRow, currency: string): CostsResult[] {
  if (!isTokens(row)) return resourceItems(row, currency)
  const model = (row.model as string | null) ?? UNKNOWN_MODEL
  const out: CostsResult[] = []
  let unpriced = 0
  // Read once: on a report's row view every read maps the breakdown again.
  const classes = row.classes!
  for (const c of PRICED_CLASSES) {
    const u = classes[c.column]
    unpriced += u.unpricedTokens
    const priced = u.tokens - u.unpricedTokens
    if (priced > 0) out.push(result(row, currency, `${model}, ${c.lineItem}${suffix(row)}`, tokens(priced), u.cost, 0))
  }
  if (unpriced > 0) out.push(result(row, currency, `${model}, unpriced${suffix(row)}`, tokens(unpriced), null, unpriced))
  return out
}

/**
 * One part of a merge key: NUL separates the parts, and stored text never holds NUL (PostgreSQL refuses it),
 * so no two distinct (project, key, line item) triples share a key; null is told apart from every string.
 */
const keyPart = (v: string | null) => (v === null ? '\u0001' : `\u0002${v}`)

/**
 * Stored `batch: null` and `false` are both priced as non-batch, so they name the same line item; and
 * without line items, a project's tokens and resources are one result. Such items are merged (exact
 * decimal sums), keeping first-appearance order; a result mixing units has no quantity.
 */
function merge(items: CostsResult[]): CostsResult[] {
  const byKey = new Map<string, CostsResult>()
  for (const item of items) {
    const key = `${keyPart(item.project_id)}\0${keyPart(item.api_key_id)}\0${keyPart(item.line_item)}`
    const prev = byKey.get(key)
    if (!prev) {
      byKey.set(key, item)
      continue
    }
    const exact =
      prev.amount.value_exact === null || item.amount.value_exact === null
        ? null
        : normalizeDecimal(new Exact(prev.amount.value_exact).plus(item.amount.value_exact).toFixed())
    prev.amount = { value: exact === null ? null : Number(exact), value_exact: exact, currency: prev.amount.currency }
    if (prev.quantity_unit !== null && prev.quantity_unit === item.quantity_unit && prev.quantity_exact !== null && item.quantity_exact !== null) {
      prev.quantity_exact = normalizeDecimal(new Exact(prev.quantity_exact).plus(item.quantity_exact).toFixed())
      prev.quantity = Number(prev.quantity_exact)
    } else Object.assign(prev, { quantity: null, quantity_exact: null, quantity_unit: null })
    prev.unpriced_tokens += item.unpriced_tokens
    prev.complete &&= item.complete
  }
  return [...byKey.values()]
}

export function costsResults(bucket: BucketRows, currency: string, byLineItem: boolean): CostsResult[] {
  if (!byLineItem)
    return merge(
      bucket.rows.map((row) =>
        result(
          row,
          currency,
          null,
          isTokens(row) ? tokens(row.inputTokens + row.outputTokens) : { exact: row.quantity ?? '0', unit: quantityUnit(row.resource as string) },
          row.cost.total,
          row.cost.unpricedTokens,
          row.cost.complete,
        ),
      ),
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
        r.quantity_exact,
        r.quantity_unit,
        r.complete ? 'true' : 'false',
        r.unpriced_tokens,
      ]),
    )
    .join('')
}
