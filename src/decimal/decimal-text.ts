/**
 * The one normaliser of decimal text (money, prices, quantities). Every value that leaves the ledger as a
 * decimal string passes through here, so "0.3409000", "00.3409" and "0.3409" can never be told apart by a
 * client or compare unequal. String work only: nothing passes through a float.
 */

/** Signed decimal in plain notation: no exponent, no bare dot, no `+`. */
export const SIGNED_PLAIN_DECIMAL = /^-?\d+(\.\d+)?$/

/**
 * The longest decimal text an ingest accepts (billed amounts, resource quantities, reported costs).
 * Longer text can overflow PostgreSQL's numeric (16,383 fractional digits): the whole request failed
 * with a 422 about token counts that named no row. Real amounts have a few dozen digits at most.
 */
export const MAX_DECIMAL_TEXT = 100

/** Non-negative decimal in plain notation (prices, amounts on a rate card). */
export const PLAIN_DECIMAL = /^\d+(\.\d+)?$/

/**
 * Canonical text of a plain decimal: surrounding blanks, leading zeros and trailing fractional zeros
 * removed, `-0` is `0` (`" 002.500"` → `"2.5"`, `"-0.000"` → `"0"`). Throws on anything else: callers
 * pass numeric text from PostgreSQL or decimal.js `toFixed()`, so a throw here is a bug, not bad input.
 */
export function normalizeDecimal(value: string): string {
  // One pass over the characters rather than a regex, a split and two replaces: every money field of every
  // row a report returns passes through here (docs/rest-mirrors.md "Read ahead").
  const text = value.trim()
  const n = text.length
  const negative = text.charCodeAt(0) === MINUS
  const intStart = negative ? 1 : 0
  let i = intStart
  while (i < n && isDigit(text.charCodeAt(i))) i++
  const intEnd = i
  let end = n
  if (i < n) {
    if (text.charCodeAt(i) !== DOT) return notPlain(value)
    const fracStart = ++i
    while (i < n && isDigit(text.charCodeAt(i))) i++
    if (i === fracStart || i < n) return notPlain(value)
    while (end > fracStart && text.charCodeAt(end - 1) === ZERO) end--
    // Every fractional digit was a zero: the dot goes too.
    if (end === fracStart) end = intEnd
  }
  if (intEnd === intStart) return notPlain(value)
  let start = intStart
  while (start < intEnd - 1 && text.charCodeAt(start) === ZERO) start++
  const abs = text.slice(start, end)
  return negative && abs !== '0' ? `-${abs}` : abs
}

const [MINUS, DOT, ZERO, NINE] = ['-', '.', '0', '9'].map((c) => c.charCodeAt(0)) as [number, number, number, number]
const isDigit = (code: number) => code >= ZERO && code <= NINE

function notPlain(value: string): never {
  throw new Error(`not a plain decimal: ${value}`)
}

/** As normalizeDecimal, for values that must not be negative (rate-card prices): throws on a sign. */
export function canonicalDecimal(text: string): string {
  if (!PLAIN_DECIMAL.test(text)) throw new Error(`not a plain non-negative decimal: ${text}`)
  return normalizeDecimal(text)
}
