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
 * same resource, same number of attributes, and no attribute on which they disagree. Each ambiguous
 * unit price is named once, with the first earlier one it clashes with: every pair of 1,000 equal unit
 * prices (499,500 problems per rate) took the event loop for seconds and gigabytes of memory.
 */
export function ambiguousUnitPrices(list: readonly UnitPrice[]): [number, number][] {
  const out: [number, number][] = []
  list.forEach((a, i) => {
    const ka = Object.keys(a.attributes)
    const clash = (b: UnitPrice) =>
      a.resource === b.resource && ka.length === Object.keys(b.attributes).length && !ka.some((k) => k in b.attributes && b.attributes[k] !== a.attributes[k])
    for (let j = 0; j < i; j++) {
      if (!clash(list[j]!)) continue
      out.push([j, i])
      break
    }
  })
  return out
}
