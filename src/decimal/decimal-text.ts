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
  const text = value.trim()
  if (!SIGNED_PLAIN_DECIMAL.test(text)) throw new Error(`not a plain decimal: ${value}`)
  const negative = text.startsWith('-')
  const [whole = '0', frac = ''] = (negative ? text.slice(1) : text).split('.')
  const int = whole.replace(/^0+(?=\d)/, '')
  const f = frac.replace(/0+$/, '')
  const abs = f ? `${int}.${f}` : int
  return negative && abs !== '0' ? `-${abs}` : abs
}

/** As normalizeDecimal, for values that must not be negative (rate-card prices): throws on a sign. */
export function canonicalDecimal(text: string): string {
  if (!PLAIN_DECIMAL.test(text)) throw new Error(`not a plain non-negative decimal: ${text}`)
  return normalizeDecimal(text)
}
