import { ProblemList } from '../errors.js'
import { tier as anthropicTier } from '../ingest/anthropic-usage.js'
import { OPENAI_COSTS_RESULT } from '../ingest/openai-page.js'
import { assembleDims, RowProblems } from '../ingest/bucket.js'
import { Turns } from '../ingest/turns.js'
import { parseJsonDimension, parseTime } from '../ingest/values.js'
import { billPeriodProblem, centsToDollars, parseAmount, parseCurrency, type BilledRow, type IndexedBilledRow } from './billed-row.js'
import { billedPresent } from './billed-shapes.js'
import { parseOpenAILineItem } from './line-items.js'
import { notCosts, usageResult } from './usage-results.js'

/**
 * The JSON cost reports: OpenAI Costs API pages (`GET /v1/organization/costs`, any `group_by`) and
 * Anthropic `cost_report` pages, one page or an array of pages. `index` counts results across pages
 * in page order, as for usage pages. Every problem of every row is collected.
 */

export interface ParsedCosts {
  rows: IndexedBilledRow[]
  received: number
  skipped: number
  /** Results that are usage, not costs (each is also a problem). */
  usageResults: number
  problems: ProblemList
}

export interface CostDefaults {
  provider?: string | undefined
  accountId?: string | undefined
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** A page or an array of pages (objects with a `data` array). */
export function isCostPagesBody(body: unknown): boolean {
  const pages = Array.isArray(body) ? body : [body]
  return pages.length > 0 && pages.every((p) => isObject(p) && Array.isArray(p.data))
}

/** Anthropic's buckets say `starting_at`; OpenAI's `start_time`. */
export function isAnthropicCostBody(body: unknown): boolean {
  const pages = Array.isArray(body) ? body : [body]
  return pages.some((p) => isObject(p) && Array.isArray(p.data) && p.data.some((b) => isObject(b) && 'starting_at' in b))
}

/** An optional text field: absent/null → null. */
function text(p: RowProblems, v: unknown, path: string): string | null {
  return p.take(parseJsonDimension(v), path, null)
}

type ResultReader = (result: Record<string, unknown>, path: string, p: RowProblems) => Omit<BilledRow, 'startMs' | 'endMs' | 'provider' | 'accountId' | 'userId' | 'present' | 'serviceTier' | 'batch' | 'inferenceGeo' | 'contextTier'> & { tier: string | null; batch: boolean | null; contextTier: string | null; inferenceGeo: string | null } | 'skipped'

/** `<name>_exact` read beside a JSON `<name>`: the number must be the exact text rounded to a double. */
function disagreement(p: RowProblems, at: string, name: string, number: unknown, exact: string | null): void {
  if (typeof number !== 'number' || exact === null || Number(exact) === number) return
  p.add(`${at}.${name}_exact`, `${at}.${name}_exact (${exact}) and ${at}.${name} (${String(number)}) are different amounts; correct one of them`)
}

const readOpenAIResult: ResultReader = (r, path, p) => {
  if (r.object !== undefined && r.object !== OPENAI_COSTS_RESULT)
    p.add(`${path}.object`, `${path}.object must be "${OPENAI_COSTS_RESULT}" (a costs page); got ${JSON.stringify(String(r.object).slice(0, 60))}`)
  const amount = isObject(r.amount) ? r.amount : undefined
  if (!amount) p.add(`${path}.amount`, `${path}.amount must be an object {value, currency}`)
  if (amount && (amount.value === null || amount.value === undefined)) return 'skipped'
  const lineItem = text(p, r.line_item, `${path}.line_item`)
  const parsedItem = lineItem === null ? undefined : parseOpenAILineItem(lineItem)
  // The ledger's own costs pages (its mirror's, cost_source billed or computed) carry the exact decimals
  // beside OpenAI's JSON numbers, which are exact to 17 significant digits only: posted back, they are read.
  const exactQuantity = typeof r.quantity_exact === 'string'
  const rawQuantity = exactQuantity ? r.quantity_exact : r.quantity
  const quantity = rawQuantity === null || rawQuantity === undefined ? null : p.take(parseAmount(rawQuantity, { nonNegative: true }), `${path}.${exactQuantity ? 'quantity_exact' : 'quantity'}`, null)
  const exactAmount = typeof amount?.value_exact === 'string'
  const amountText = amount ? p.take(parseAmount(exactAmount ? amount.value_exact : amount.value), `${path}.amount.${exactAmount ? 'value_exact' : 'value'}`, null) : null
  // The number beside the exact text is that text rounded (the ledger writes both from one amount): where
  // they disagree, one was edited and the other not — reading the exact text alone stored the unedited one.
  if (exactAmount) disagreement(p, `${path}.amount`, 'value', amount?.value, amountText)
  if (exactQuantity) disagreement(p, path, 'quantity', r.quantity, quantity)
  return {
    lineItem,
    model: parsedItem?.model ?? null,
    tokenType: null,
    costType: null,
    amount: amountText ?? '0',
    currency: amount ? p.take(parseCurrency(amount.currency), `${path}.amount.currency`, 'USD') : 'USD',
    projectId: text(p, r.project_id, `${path}.project_id`),
    apiKeyId: text(p, r.api_key_id, `${path}.api_key_id`),
    quantity,
    quantityUnit: text(p, r.quantity_unit, `${path}.quantity_unit`),
    tier: parsedItem?.serviceTier ?? null,
    batch: parsedItem ? parsedItem.batch : null,
    contextTier: null,
    inferenceGeo: null,
  }
}

const readAnthropicResult: ResultReader = (r, path, p) => {
  if (r.amount === null || r.amount === undefined) return 'skipped'
  const cents = p.take(parseAmount(r.amount), `${path}.amount`, '0')
  const rawTier = text(p, r.service_tier, `${path}.service_tier`)
  const t = anthropicTier(rawTier)
  return {
    lineItem: text(p, r.description, `${path}.description`),
    model: text(p, r.model, `${path}.model`),
    tokenType: text(p, r.token_type, `${path}.token_type`),
    costType: text(p, r.cost_type, `${path}.cost_type`),
    amount: centsToDollars(cents),
    currency: p.take(parseCurrency(r.currency), `${path}.currency`, 'USD'),
    projectId: text(p, r.workspace_id, `${path}.workspace_id`),
    apiKeyId: null,
    quantity: null,
    quantityUnit: null,
    tier: t.serviceTier,
    batch: t.batch,
    contextTier: text(p, r.context_window, `${path}.context_window`),
    inferenceGeo: text(p, r.inference_geo, `${path}.inference_geo`),
  }
}

/** Parses cost pages of either provider; the provider is `anthropic` for cost_report pages unless `?provider=` says otherwise. */
export async function parseCostPages(body: unknown, defaults: CostDefaults): Promise<ParsedCosts> {
  const anthropic = isAnthropicCostBody(body)
  const [startField, endField] = anthropic ? ['starting_at', 'ending_at'] : ['start_time', 'end_time']
  const provider = defaults.provider ?? (anthropic ? 'anthropic' : 'openai')
  const read = anthropic ? readAnthropicResult : readOpenAIResult
  const out: ParsedCosts = { rows: [], received: 0, skipped: 0, usageResults: 0, problems: new ProblemList() }
  const bucketsSeen = new Map<string, string>()
  const pages = Array.isArray(body) ? body : [body]
  let index = 0
  const turns = new Turns()
  for (const [pageNo, page] of (pages as unknown[]).entries()) {
    const pagePath = Array.isArray(body) ? `${pageNo}.data` : 'data'
    const data = isObject(page) ? page.data : undefined
    if (!Array.isArray(data)) {
      out.problems.push({ path: pagePath, message: 'a page must have a data array' })
      continue
    }
    for (const [bucketNo, bucket] of (data as unknown[]).entries()) {
      const bucketPath = `${pagePath}.${bucketNo}`
      if (!isObject(bucket) || !Array.isArray(bucket.results)) {
        out.problems.push({ path: bucketPath, message: 'a bucket must be an object with a results array' })
        continue
      }
      const timeKey = `${String(bucket[startField])}/${String(bucket[endField])}`
      // The instants, not their text: 1759276800 and "2025-10-01T00:00:00Z" are the same bucket.
      const [start, end] = [parseTime(bucket[startField]), parseTime(bucket[endField])]
      const seenKey = start.ok && end.ok ? `${start.value}-${end.value}` : timeKey
      const earlier = bucketsSeen.get(seenKey)
      if (earlier !== undefined && bucket.results.length > 0)
        out.problems.push({ index, path: bucketPath, message: `the bucket ${timeKey} appears twice (also at ${earlier}): is a page posted twice?` })
      else if (bucket.results.length > 0) bucketsSeen.set(seenKey, bucketPath)
      const visit = (result: unknown, resultNo: number): void => {
        const path = `${bucketPath}.results.${resultNo}`
        const p = new RowProblems({ index })
        index++
        out.received++
        if (!isObject(result)) return void out.problems.push({ index: index - 1, path, message: `${path} must be an object` })
        const usage = usageResult(result, anthropic)
        if (usage) {
          out.usageResults++
          return void out.problems.push({ index: index - 1, path, message: `${path} is ${notCosts(usage)}` })
        }
        const startMs = p.take<number | undefined>(parseTime(bucket[startField]), `${bucketPath}.${startField}`, undefined)
        const endMs = p.take<number | undefined>(parseTime(bucket[endField]), `${bucketPath}.${endField}`, undefined)
        const period = startMs !== undefined && endMs !== undefined ? billPeriodProblem(startMs, endMs) : undefined
        if (period) p.add(`${bucketPath}.${endField}`, `${bucketPath}: ${period}`)
        const fields = read(result, path, p)
        if (fields === 'skipped') {
          if (!p.length) return void out.skipped++
          return void out.problems.append(p)
        }
        const { tier, ...rest } = fields
        const dims = assembleDims(
          { startMs, endMs, provider, accountId: defaults.accountId ?? null, projectId: rest.projectId, userId: null, apiKeyId: rest.apiKeyId, model: rest.model, serviceTier: tier, batch: rest.batch, contextTier: rest.contextTier, inferenceGeo: rest.inferenceGeo },
          p,
        )
        if (p.length || !dims) return void out.problems.append(p)
        out.rows.push({ ref: index - 1, row: { ...rest, ...dims, userId: null, present: billedPresent(rest) } })
      }
      for (const [resultNo, result] of (bucket.results as unknown[]).entries()) {
        visit(result, resultNo)
        if (turns.due()) await turns.take()
      }
    }
  }
  return out
}
