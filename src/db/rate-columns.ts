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
