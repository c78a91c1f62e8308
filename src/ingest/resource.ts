import { Decimal } from 'decimal.js'
import { MAX_DECIMAL_TEXT } from '../decimal/decimal-text.js'
import { addDecimals } from '../decimal/exact.js'
import { ProblemList } from '../errors.js'
import { dimsKey, type UsageDims } from './bucket.js'
import { Turns } from './turns.js'
import { longerThan, MAX_COUNTER, MAX_DIMENSION_LENGTH, unstorableText, type Parsed } from './values.js'

/**
 * Non-token usage (contract v2 "resources"): one resource row = the usual dimensions + `resource`, an
 * exact `quantity`, `attributes` (string → string, part of the natural key), the request count and a
 * cost the provider reported. Quantities stay decimal text from the wire to `numeric`.
 */
export interface NormalisedResource extends UsageDims {
  resource: string
  /** Plain decimal text, canonical (no exponent, no trailing fractional zeros). */
  quantity: string
  attributes: Record<string, string>
  requests: number | null
  reportedCost: string | null
}

export interface IndexedResource {
  index: number
  resource: NormalisedResource
}

export const RESOURCE_NAME = /^[a-z0-9_]{1,64}$/
const MAX_ATTRIBUTE_LENGTH = MAX_DIMENSION_LENGTH

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value })
const fail = (message: string): Parsed<never> => ({ ok: false, message })

export function parseResourceName(v: unknown): Parsed<string> {
  if (typeof v !== 'string') return fail('is required: a name matching [a-z0-9_]{1,64}')
  if (!RESOURCE_NAME.test(v)) return fail(`must match [a-z0-9_]{1,64} (got ${JSON.stringify(v.slice(0, 70))})`)
  if (v === 'tokens') return fail('"tokens" is reserved: send tokens as buckets')
  return ok(v)
}

const DECIMAL_TEXT = /^\d+(\.\d+)?$/
const MAX_QUANTITY = new Decimal('1e30')

/**
 * A quantity: a decimal string or JSON number ≥ 0 and below 10^30, at most MAX_DECIMAL_TEXT characters
 * as a plain decimal → canonical plain decimal text (exact). The OpenAI mirrors also show quantities as JSON numbers (`quantity`, beside the exact
 * `quantity_exact`): a quantity of 400 digits, stored once, was Infinity there and cut off every later
 * read of its range. 10^30 keeps any sum of them a finite number and is far above real usage.
 */
export function parseQuantity(v: unknown): Parsed<string> {
  let d: Decimal
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0) return fail(`must be a number ≥ 0 (got ${v})`)
    // The shortest round-trip text of the number, in plain notation.
    d = new Decimal(String(v))
  } else {
    if (typeof v !== 'string') return fail('is required: a decimal string or number ≥ 0')
    if (v.length > MAX_DECIMAL_TEXT) return fail(`must be at most ${MAX_DECIMAL_TEXT} characters (got ${v.length})`)
    if (!DECIMAL_TEXT.test(v)) return fail(`must be a plain decimal ≥ 0 such as "12.5" (got ${JSON.stringify(v.slice(0, 40))})`)
    d = new Decimal(v)
  }
  if (d.gte(MAX_QUANTITY)) return fail('must be below 10^30')
  // The same bound as the text form: a JSON number such as 5e-324 is 326 characters written out.
  const text = d.toFixed()
  if (text.length > MAX_DECIMAL_TEXT) return fail(`must be at most ${MAX_DECIMAL_TEXT} characters written as a plain decimal (got ${text.length})`)
  return ok(text)
}

/** A reported cost: null, or a decimal string/number ≥ 0. */
export function parseReportedCost(v: unknown): Parsed<string | null> {
  if (v === undefined || v === null) return ok(null)
  return parseQuantity(v)
}

/** An optional request count. */
export function parseRequests(v: unknown): Parsed<number | null> {
  if (v === undefined || v === null) return ok(null)
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_COUNTER) return fail('must be an integer ≥ 0')
  return ok(v)
}

/** The start of a key for a message, never ending in half a character. */
const shown = (k: string) => k.slice(0, 40).replace(/[\uD800-\uDBFF]$/, '')

/**
 * Attributes: an object of string → string (each ≤ 256 characters). `dropNulls` is for provider
 * pages, where a field not grouped by comes back null and simply is not an attribute.
 */
export function parseAttributes(v: unknown, dropNulls = false): Parsed<Record<string, string>> {
  if (v === undefined || v === null) return ok({})
  if (typeof v !== 'object' || Array.isArray(v)) return fail('must be an object of string → string')
  const out: Record<string, string> = {}
  const bad: string[] = []
  for (const [k, value] of Object.entries(v as Record<string, unknown>)) {
    // Absent is absent; null is "not grouped by" in provider pages (and an error in our own format).
    if (value === undefined || (value === null && dropNulls)) continue
    // Stored as jsonb, which holds neither NUL nor a lone surrogate: the database would refuse the whole request.
    const unstorable = unstorableText(k) ?? (typeof value === 'string' ? unstorableText(value) : undefined)
    if (typeof value !== 'string') bad.push(`"${shown(k)}" is not a string`)
    // Characters as every other text of the contract counts them: code points (256 emoji are 256 characters).
    else if (k.length === 0 || longerThan(k, MAX_ATTRIBUTE_LENGTH) || longerThan(value, MAX_ATTRIBUTE_LENGTH))
      bad.push(`"${shown(k)}": keys and values must be 1–${MAX_ATTRIBUTE_LENGTH} characters`)
    else if (unstorable) bad.push(`${JSON.stringify(shown(k))}: ${unstorable}`)
    else out[k] = value
  }
  if (bad.length) return fail(`must be an object of string → string: ${bad.join('; ')}`)
  return ok(out)
}

/** The attributes with sorted keys: equal maps ⇔ equal JSON. */
export function sortedAttributes(a: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(a).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
}

/** A resource's natural key: the bucket key without usage type, + resource + the whole attributes map. */
export function resourceKey(r: NormalisedResource): string {
  return JSON.stringify([...dimsKey(r), r.resource, sortedAttributes(r.attributes)])
}

const addNullable = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : a + b)
const addDecimal = (a: string | null, b: string | null) => (a === null ? b : b === null ? a : addDecimals(a, b))

/** Sums resources sharing a natural key (provider reports split rows by what they do not show). */
export async function mergeResources(rows: readonly IndexedResource[]): Promise<{ rows: IndexedResource[]; problems: ProblemList }> {
  const turns = new Turns()
  const byKey = new Map<string, IndexedResource>()
  for (const row of rows) {
    if (turns.due()) await turns.take()
    const key = resourceKey(row.resource)
    const first = byKey.get(key)
    if (!first) {
      byKey.set(key, row)
      continue
    }
    const a = first.resource
    const b = row.resource
    byKey.set(key, {
      index: first.index,
      resource: {
        ...a,
        // What any part reports (see mergeRows).
        present: a.present | b.present,
        quantity: addDecimals(a.quantity, b.quantity),
        requests: addNullable(a.requests, b.requests),
        reportedCost: addDecimal(a.reportedCost, b.reportedCost),
      },
    })
  }
  const merged = [...byKey.values()]
  const problems = new ProblemList()
  for (const { index, resource } of merged)
    if ((resource.requests ?? 0) > MAX_COUNTER)
      problems.push({ index, path: 'num_model_requests', message: 'the sum of the rows sharing this natural key exceeds 2^53 − 1' })
  return { rows: merged, problems }
}

export function describeResource(r: NormalisedResource): string {
  return `${new Date(r.startMs).toISOString()}–${new Date(r.endMs).toISOString()} resource ${r.resource} model ${r.model ?? 'null'}`
}
