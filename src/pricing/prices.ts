import { canonicalDecimal } from '../decimal/decimal-text.js'
// The price classes themselves are the `rates` table's columns (src/db/rate-columns.ts); these helpers
// compare and check prices for the pricing layer.
import { PRICE_CLASSES, type Prices, type UnitPrice } from '../db/rate-columns.js'

/** Prices with every class canonicalised; absent classes stay absent. */
export function canonicalPrices(prices: Prices): Prices {
  const out: Prices = {}
  for (const c of PRICE_CLASSES) {
    const v = prices[c]
    if (v !== undefined && v !== null) out[c] = canonicalDecimal(v)
  }
  return out
}

export function samePrices(a: Prices, b: Prices): boolean {
  return PRICE_CLASSES.every((c) => (a[c] === undefined ? b[c] === undefined : b[c] !== undefined && canonicalDecimal(a[c]) === canonicalDecimal(b[c])))
}

/**
 * Two unit prices of one rate are ambiguous when a row could match both with equally many attributes:
 * same resource, same number of attributes, and no attribute on which they disagree.
 */
export function ambiguousUnitPrices(list: readonly UnitPrice[]): [number, number][] {
  const out: [number, number][] = []
  list.forEach((a, i) =>
    list.slice(0, i).forEach((b, j) => {
      if (a.resource !== b.resource) return
      const ka = Object.keys(a.attributes)
      if (ka.length !== Object.keys(b.attributes).length) return
      const disagree = ka.some((k) => k in b.attributes && b.attributes[k] !== a.attributes[k])
      if (!disagree) out.push([j, i])
    }),
  )
  return out
}
