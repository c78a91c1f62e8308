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

/** Non-negative decimal in plain notation: no sign, no exponent, no bare dot. */
export const PLAIN_DECIMAL = /^\d+(\.\d+)?$/

/**
 * Canonical text of a plain non-negative decimal: no leading zeros, no trailing fractional zeros
 * (`"002.500"` → `"2.5"`, `"0.000"` → `"0"`). String work only, so nothing passes through a float.
 */
export function canonicalDecimal(text: string): string {
  if (!PLAIN_DECIMAL.test(text)) throw new Error(`not a plain non-negative decimal: ${text}`)
  const [whole = '0', frac = ''] = text.split('.')
  const int = whole.replace(/^0+(?=\d)/, '')
  const f = frac.replace(/0+$/, '')
  return f ? `${int}.${f}` : int
}

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
