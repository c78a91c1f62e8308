import type { UnitPrice } from '../../db/rate-columns.js'
import { CATALOG_EPOCH, type CatalogRate } from './genai-prices.js'

/**
 * Per-unit prices the catalog lacks, entered by hand from OpenAI's published price list (no network
 * here to re-check: docs/pricing-catalog.md marks each as unverified). Only flat prices: what depends
 * on something the usage does not carry — DALL·E 3 and gpt-image quality, container memory size beyond
 * the default, web_search vs web_search_preview — is left out and so stays unpriced.
 */
const OPENAI_PRICE_LIST_DATE = '2025-10'
const OPENAI_PRICE_LIST_SOURCE = `unverified — from OpenAI's published price list as of ${OPENAI_PRICE_LIST_DATE} (https://platform.openai.com/docs/pricing)`

const OPENAI_UNIT_PRICES: Record<string, UnitPrice[]> = {
  // Text to speech: $15 / $30 per 1M characters.
  'tts-1': [{ resource: 'characters', attributes: {}, price: '0.000015' }],
  'tts-1-hd': [{ resource: 'characters', attributes: {}, price: '0.00003' }],
  // DALL·E 2 has one quality: $0.016 / $0.018 / $0.020 per image by size, for generations, edits and variations.
  'dall-e-2': [
    { resource: 'images', attributes: { size: '256x256' }, price: '0.016' },
    { resource: 'images', attributes: { size: '512x512' }, price: '0.018' },
    { resource: 'images', attributes: { size: '1024x1024' }, price: '0.02' },
  ],
  // Usage of these tools is reported without a model (vector stores and sessions by project only):
  // code interpreter $0.03 per session (the default 1 GB container), file search $2.50 per 1,000
  // calls, vector storage $0.10 per GB-day (the first GB free per organization is not applied here).
  '*': [
    { resource: 'code_interpreter_sessions', attributes: {}, price: '0.03' },
    { resource: 'file_search_calls', attributes: {}, price: '0.0025' },
    { resource: 'storage_bytes', attributes: {}, price: '0.1' },
  ],
}

/** OpenAI's moderation models are free (the catalog lists them with no price): every class they bill is "0". */
const OPENAI_FREE_MODELS = ['omni-moderation-*', 'text-moderation-*']
const FREE_SOURCE = 'OpenAI moderation guide: the moderation endpoint is free (https://platform.openai.com/docs/guides/moderation)'

/** A hand-entered standard-tier OpenAI rate in force since the catalog epoch. */
function handRate(model: string, prices: CatalogRate['prices'], unitPrices: UnitPrice[], source: string): CatalogRate {
  return {
    catalogId: model,
    provider: 'openai',
    model,
    serviceTier: 'default',
    batch: false,
    contextTier: null,
    inferenceGeo: null,
    effectiveFrom: CATALOG_EPOCH,
    effectiveTo: null,
    prices,
    unitPrices,
    supersedes: null,
    source,
  }
}

/**
 * The hand-entered unit prices as rates: added to the catalog's standard rates of the same model where
 * the catalog has one (every segment), otherwise a rate with no token prices in force since the epoch.
 */
export function withOpenAIUnitPrices(standard: readonly CatalogRate[]): CatalogRate[] {
  const out = [...standard]
  for (const [model, unitPrices] of Object.entries(OPENAI_UNIT_PRICES)) {
    const own = (r: CatalogRate) => r.provider === 'openai' && r.model === model && r.serviceTier === 'default' && !r.batch && r.contextTier === null
    if (out.some(own)) {
      out.forEach((r, i) => {
        if (!own(r)) return
        const mine = unitPrices.filter((u) => !r.unitPrices.some((c) => c.resource === u.resource))
        out[i] = { ...r, unitPrices: [...r.unitPrices, ...mine], source: `${r.source}; unit prices: ${OPENAI_PRICE_LIST_SOURCE}` }
      })
      continue
    }
    out.push(handRate(model, {}, unitPrices, OPENAI_PRICE_LIST_SOURCE))
  }
  for (const model of OPENAI_FREE_MODELS) {
    if (out.some((r) => r.provider === 'openai' && r.model === model)) continue
    out.push(handRate(model, { input: '0', input_image: '0' }, [], FREE_SOURCE))
  }
  return out
}
