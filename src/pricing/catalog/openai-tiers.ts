import { Decimal } from 'decimal.js'
import { canonicalDecimal } from '../../decimal/decimal-text.js'
import { PRICE_CLASSES, type Prices } from '../../db/rate-columns.js'
import type { CatalogRate } from './genai-prices.js'

// Tier prices the catalog lacks, from OpenAI's published pricing. Each rate's `source` names the page.
const BATCH_SOURCE = 'OpenAI Batch API: 50% of standard prices (https://platform.openai.com/docs/guides/batch)'
const FLEX_SOURCE = 'OpenAI Flex processing: Batch API rates (https://platform.openai.com/docs/guides/flex-processing)'
const PRIORITY_SOURCE = 'OpenAI Priority processing (https://openai.com/api-priority-processing/)'

/** Catalog entry → the ids (aliases and dated snapshots) that OpenAI's Batch API serves. */
const BATCH_MODELS: Record<string, string[]> = {
  'gpt-5': ['gpt-5', 'gpt-5-2025-08-07'],
  'gpt-5-mini': ['gpt-5-mini', 'gpt-5-mini-2025-08-07'],
  'gpt-5-nano': ['gpt-5-nano', 'gpt-5-nano-*'],
  'gpt-5.1': ['gpt-5.1', 'gpt-5.1-2025-11-13'],
  'gpt-4.1': ['gpt-4.1', 'gpt-4.1-2025-04-14'],
  'gpt-4.1-mini': ['gpt-4.1-mini', 'gpt-4.1-mini-2025-04-14'],
  'gpt-4.1-nano': ['gpt-4.1-nano', 'gpt-4.1-nano-2025-04-14'],
  'gpt-4o': ['gpt-4o', 'gpt-4o-2024-08-06', 'gpt-4o-2024-11-20'],
  'gpt-4o-2024-05-13': ['gpt-4o-2024-05-13'],
  'gpt-4o-mini': ['gpt-4o-mini', 'gpt-4o-mini-2024-07-18'],
  'gpt-4-turbo': ['gpt-4-turbo', 'gpt-4-turbo-2024-04-09'],
  'gpt-3.5-turbo': ['gpt-3.5-turbo', 'gpt-3.5-turbo-0125'],
  o1: ['o1', 'o1-2024-12-17'],
  o3: ['o3', 'o3-2025-04-16'],
  'o3-mini': ['o3-mini', 'o3-mini-2025-01-31'],
  'o4-mini': ['o4-mini', 'o4-mini-2025-04-16'],
  'text-embedding-3-small': ['text-embedding-3-small'],
  'text-embedding-3-large': ['text-embedding-3-large'],
  'text-embedding-ada-002': ['text-embedding-ada-002'],
}

/** Models OpenAI offers Flex processing for (priced at Batch rates). */
const FLEX_MODELS: Record<string, string[]> = {
  'gpt-5': BATCH_MODELS['gpt-5']!,
  'gpt-5-mini': BATCH_MODELS['gpt-5-mini']!,
  'gpt-5-nano': BATCH_MODELS['gpt-5-nano']!,
  o3: BATCH_MODELS.o3!,
  'o4-mini': BATCH_MODELS['o4-mini']!,
}

/** Priority processing prices (input, cached input, output per 1M; short context only). */
const PRIORITY_PRICES: Record<string, { ids: string[]; input: string; cached_input: string; output: string }> = {
  'gpt-5': { ids: BATCH_MODELS['gpt-5']!, input: '2.5', cached_input: '0.25', output: '20' },
  'gpt-5-mini': { ids: BATCH_MODELS['gpt-5-mini']!, input: '0.45', cached_input: '0.045', output: '3.6' },
  'gpt-5.1': { ids: BATCH_MODELS['gpt-5.1']!, input: '2.5', cached_input: '0.25', output: '20' },
  'gpt-4.1': { ids: BATCH_MODELS['gpt-4.1']!, input: '3.5', cached_input: '0.875', output: '14' },
  'gpt-4.1-mini': { ids: BATCH_MODELS['gpt-4.1-mini']!, input: '0.7', cached_input: '0.175', output: '2.8' },
  'gpt-4.1-nano': { ids: BATCH_MODELS['gpt-4.1-nano']!, input: '0.2', cached_input: '0.05', output: '0.8' },
  'gpt-4o': { ids: BATCH_MODELS['gpt-4o']!, input: '4.25', cached_input: '2.125', output: '17' },
  'gpt-4o-mini': { ids: BATCH_MODELS['gpt-4o-mini']!, input: '0.25', cached_input: '0.125', output: '1' },
  o3: { ids: BATCH_MODELS.o3!, input: '3.5', cached_input: '0.875', output: '14' },
  'o4-mini': { ids: BATCH_MODELS['o4-mini']!, input: '2', cached_input: '0.5', output: '8' },
}

function half(p: Prices): Prices {
  const out: Prices = {}
  for (const c of PRICE_CLASSES) {
    const v = p[c]
    if (v !== undefined) out[c] = canonicalDecimal(new Decimal(v).times('0.5').toFixed())
  }
  return out
}

const isStandard = (r: CatalogRate) => r.provider === 'openai' && r.serviceTier === 'default' && !r.batch

/**
 * Batch and flex rates follow every segment of the standard timeline at half price (so o3's 2025-06-10
 * price cut carries over). Priority prices are OpenAI's current list and start with the latest
 * standard segment.
 */
export function openaiTierRates(standard: readonly CatalogRate[]): CatalogRate[] {
  const out: CatalogRate[] = []
  const covered = (table: Record<string, string[]>, r: CatalogRate) => table[r.catalogId]?.includes(r.model) ?? false
  for (const r of standard) {
    if (!isStandard(r) || Object.keys(r.prices).length === 0) continue
    if (covered(BATCH_MODELS, r)) out.push({ ...r, batch: true, prices: half(r.prices), source: `${BATCH_SOURCE}; standard: ${r.source}` })
    if (covered(FLEX_MODELS, r)) out.push({ ...r, serviceTier: 'flex', prices: half(r.prices), source: `${FLEX_SOURCE}; standard: ${r.source}` })
  }
  for (const [catalogId, p] of Object.entries(PRIORITY_PRICES)) {
    for (const model of p.ids) {
      const latest = standard
        .filter((r) => isStandard(r) && r.catalogId === catalogId && r.model === model)
        .sort((a, b) => b.effectiveFrom.getTime() - a.effectiveFrom.getTime())[0]
      if (!latest) continue
      out.push({
        ...latest,
        serviceTier: 'priority',
        // Images are billed as text tokens and cache writes are free, as in the standard tier.
        prices: { input: p.input, cached_input: p.cached_input, cache_write: '0', output: p.output, input_image: p.input, cached_input_image: p.cached_input },
        source: PRIORITY_SOURCE,
      })
    }
  }
  return out
}
