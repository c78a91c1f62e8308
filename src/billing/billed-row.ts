import { createHash } from 'node:crypto'
import type { UsageDims } from '../ingest/bucket.js'
import type { Parsed } from '../ingest/values.js'
import { normalizeDecimal } from '../decimal/decimal-text.js'

/** One billed amount as every cost format is reduced to it (the ledger's `userId` is always null here). */
export interface BilledRow extends UsageDims {
  /** OpenAI `line_item`, Anthropic `description`. */
  lineItem: string | null
  tokenType: string | null
  costType: string | null
  /** Exact USD, plain decimal text (may be negative: credits). */
  amount: string
  currency: string
  quantity: string | null
  quantityUnit: string | null
}

export interface IndexedBilledRow {
  /** The row's index (JSON, across pages in page order) or line (CSV). */
  ref: number
  row: BilledRow
}

/**
 * The longest period one billed cost may cover: a calendar month (31 days). Every cost report the providers
 * produce is a day (OpenAI's costs pages and dashboard export, Anthropic's cost_report: bucket_width 1d);
 * reconciliation looks this far before a range's start for a bill that crosses it, so a longer bill was
 * neither widened to nor read there while its usage after the start was counted (README "Reconciliation").
 */
export const LONGEST_BILL_MS = 31 * 24 * 3600 * 1000

/** The problem with a billed cost's period, if it is longer than LONGEST_BILL_MS. */
export function billPeriodProblem(startMs: number, endMs: number): string | undefined {
  if (endMs - startMs <= LONGEST_BILL_MS) return undefined
  const days = (endMs - startMs) / (24 * 3600 * 1000)
  return `a billed cost may cover at most 31 days (a month's invoice); this one runs ${new Date(startMs).toISOString()}–${new Date(endMs).toISOString()} (${Number(days.toFixed(3))} days): post it by day or by month`
}

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value })
const fail = (message: string): Parsed<never> => ({ ok: false, message })

import { MAX_DECIMAL_TEXT, SIGNED_PLAIN_DECIMAL as SIGNED_DECIMAL } from '../decimal/decimal-text.js'
import { Exact } from '../decimal/exact.js'

/**
 * A money value: a decimal string taken as written, or a JSON number read as its shortest round-trip
 * decimal (`0.06` → "0.06", never 0.059999…), which is JavaScript's own number → text conversion.
 */
export function parseAmount(v: unknown, opts: { nonNegative?: boolean } = {}): Parsed<string> {
  let text: string
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return fail('must be a finite number')
    text = new Exact(String(v)).toFixed()
    // The text form's bound holds for numbers too: 1e120 or 1e-120 written out is longer, and summed
    // under one natural key (at 2 × MAX_DECIMAL_TEXT digits) the smaller amount was silently lost.
    if (text.length > MAX_DECIMAL_TEXT)
      return fail(`must be at most ${MAX_DECIMAL_TEXT} characters in plain notation, as a string would be; got ${String(v)} (${text.length})`)
  } else if (typeof v === 'string') {
    text = v.trim()
    if (text.length > MAX_DECIMAL_TEXT || !SIGNED_DECIMAL.test(text))
      return fail(`must be a plain decimal such as "0.06"; got ${JSON.stringify(text.slice(0, 40))}`)
  } else return fail('must be a number or a decimal string')
  const value = normalizeDecimal(text)
  if (opts.nonNegative && value.startsWith('-')) return fail(`must be ≥ 0 (got ${value})`)
  return ok(value)
}

/**
 * A billed amount's currency, for every cost format (JSON pages and the cost export CSV): `usd` in any case,
 * read trimmed like the amount beside it. Blank is refused, never read as USD: a cost export writes the
 * currency on every row with an amount, so a blank cell is a damaged row, and v1 is USD only.
 */
export function parseCurrency(v: unknown): Parsed<string> {
  const text = typeof v === 'string' ? v.trim() : ''
  if (text === '') return fail('must be a currency code such as "usd"')
  if (text.toUpperCase() !== 'USD') return fail(`must be USD (rate cards are USD only); got ${JSON.stringify(text.slice(0, 16))}`)
  return ok('USD')
}

/** Anthropic's cost_report amounts are cents: ÷ 100, exactly. */
export function centsToDollars(cents: string): string {
  return normalizeDecimal(new Exact(cents).div(100).toFixed())
}

/**
 * The natural key (contract v2): tenant, provider, account, start, end, project, api key, line item or
 * description, model, token type, service tier (with the batch flag), context tier — the tenant is
 * the index's own column, the rest is hashed (sha256 of a JSON array: distinct keys, distinct text).
 */
export function naturalKeyHash(r: BilledRow): Buffer {
  const key = [r.provider, r.accountId, r.startMs, r.endMs, r.projectId, r.apiKeyId, r.lineItem, r.model, r.tokenType, r.serviceTier, r.batch, r.contextTier]
  return createHash('sha256').update(JSON.stringify(key)).digest()
}
