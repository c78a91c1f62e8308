import type { CatalogRate } from './genai-prices.js'

const US_GEO = 'us'

const ANTHROPIC_US_GEO_SOURCE =
  'Priceless on purpose: Anthropic bills US-only inference (inference_geo "us") at a multiplier the catalog package ' +
  'does not carry and that could not be verified here, so such usage is unpriced rather than priced at the any-geo rate ' +
  '(docs/pricing-catalog.md)'

/**
 * A priceless `inference_geo: us` copy of every Anthropic rate (each context tier, batch, every
 * timeline segment). Rate choice prefers a matching geo, so `us` usage resolves here and is unpriced
 * (visible as unpricedTokens / complete: false) instead of being approximated by the any-geo price.
 * Copies keep the original's context tier and batch flag: a tiered `us` row would otherwise pick the
 * priced tier rate before the geo is considered (the tier is matched first).
 */
export function anthropicUsGeoRates(rates: readonly CatalogRate[]): CatalogRate[] {
  return rates
    .filter((r) => r.provider === 'anthropic' && r.inferenceGeo === null)
    .map((r) => ({ ...r, inferenceGeo: US_GEO, prices: {}, unitPrices: [], source: ANTHROPIC_US_GEO_SOURCE }))
}
