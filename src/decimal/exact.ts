import { Decimal } from 'decimal.js'
import { MAX_DECIMAL_TEXT, normalizeDecimal } from './decimal-text.js'

/**
 * decimal.js with room for every sum and decimal shift of accepted values (each at most
 * MAX_DECIMAL_TEXT characters). Its default precision, 20 significant digits, rounds longer results:
 * a sum of page results' quantities was stored rounded.
 */
export const Exact = Decimal.clone({ precision: 2 * MAX_DECIMAL_TEXT })

/** The exact sum of two decimal texts, as canonical text (normalizeDecimal). */
export function addDecimals(a: string, b: string): string {
  return normalizeDecimal(new Exact(a).plus(b).toFixed())
}
