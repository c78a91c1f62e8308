import { canonicalDecimal } from '../decimal/decimal-text.js'
/**
 * Price classes of a rate, in USD per 1M tokens. The names are the wire names and the `rates` columns.
 * An absent class is unpriced (never 0): usage in it is counted in `unpricedTokens`.
 */
export const PRICE_CLASSES = [
  'input',
  'cached_input',
  'cache_write',
  'cache_write_1h',
  'output',
  'input_audio',
  'cached_input_audio',
  'output_audio',
  'input_image',
  'cached_input_image',
  'output_image',
] as const

export type PriceClass = (typeof PRICE_CLASSES)[number]
export type Prices = Partial<Record<PriceClass, string>>

// Re-exported for src/pricing/catalog/*; new code imports src/decimal/decimal-text.ts directly.
export { canonicalDecimal } from '../decimal/decimal-text.js'

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

/** A per-unit price of a resource (contract v2 "Pricing, extended"): matches rows whose attributes include all of its own. */
export interface UnitPrice {
  resource: string
  attributes: Record<string, string>
  price: string
}

/** Unit prices with canonical decimals and sorted attribute keys, in the order given (errors name positions). */
export function canonicalUnitPrices(list: readonly UnitPrice[]): UnitPrice[] {
  return list.map((u) => ({
    resource: u.resource,
    attributes: Object.fromEntries(Object.entries(u.attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    price: canonicalDecimal(u.price),
  }))
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
