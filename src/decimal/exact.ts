import { Decimal } from 'decimal.js'
import { normalizeDecimal } from './decimal-text.js'

/**
 * decimal.js with room for every sum, product and decimal shift of accepted values and of the costs the
 * database computes from them (each a few hundred digits at most), and for the quotients reconciliation
 * rounds to 12 places. Its default precision, 20 significant digits, rounds longer results: a sum of page
 * results' quantities was stored rounded, and the REST mirrors' sums of costs were answered rounded.
 * Every exact sum in the code uses this one.
 */
export const Exact = Decimal.clone({ precision: 1000 })

/** The exact sum of two decimal texts, as canonical text (normalizeDecimal). */
export function addDecimals(a: string, b: string): string {
  return normalizeDecimal(new Exact(a).plus(b).toFixed())
}
