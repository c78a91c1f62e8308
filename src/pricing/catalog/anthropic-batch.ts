import { Decimal } from 'decimal.js'
import { canonicalDecimal } from '../../decimal/decimal-text.js'
import { PRICE_CLASSES, type Prices } from '../../db/rate-columns.js'
import type { CatalogRate } from './genai-prices.js'

const ANTHROPIC_BATCH_SOURCE =
  'Anthropic Message Batches API: 50% of standard prices (https://docs.anthropic.com/en/docs/build-with-claude/batch-processing#pricing)'

/** Models older than the Message Batches API (Claude 3 onwards) have no batch price. */
const NO_BATCH = new Set(['claude-2', 'claude-v1'])

function half(p: Prices): Prices {
  const out: Prices = {}
  for (const c of PRICE_CLASSES) {
    const v = p[c]
    if (v !== undefined) out[c] = canonicalDecimal(new Decimal(v).times('0.5').toFixed())
  }
  return out
}

/**
 * Anthropic bills batch usage at half of every token class, cache reads and both cache-write durations
 * included (the caching multipliers stack with the batch discount), in every context tier. The discount
 * is on tokens: per-search fees keep their price. Priceless rates (tiered usage without a tier) stay
 * priceless, so the batch timeline mirrors the standard one segment by segment.
 */
export function anthropicBatchRates(standard: readonly CatalogRate[]): CatalogRate[] {
  return standard
    .filter((r) => r.provider === 'anthropic' && r.serviceTier === 'default' && !r.batch && !NO_BATCH.has(r.catalogId))
    .map((r) => ({ ...r, batch: true, prices: half(r.prices), source: `${ANTHROPIC_BATCH_SOURCE}; standard: ${r.source}` }))
}
