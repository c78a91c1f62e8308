import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { findProvider, type MatchLogic, type ModelInfo, type ModelPrice } from '@pydantic/genai-prices'
import { Decimal } from 'decimal.js'
import type { NewRate } from '../../db/queries/rate-cards.js'
import { canonicalDecimal } from '../../decimal/decimal-text.js'
import type { PriceClass, Prices, UnitPrice } from '../../db/rate-columns.js'
import { CONTEXT_TIERS, contextTierRates, type TierSplit } from './context-tiers.js'

/** A rate built from the catalog, remembering which catalog entry it came from. */
export interface CatalogRate extends NewRate {
  catalogId: string
}

export const CATALOG_PACKAGE = '@pydantic/genai-prices'

/** The installed catalog version: refresh re-imports exactly what is installed, never the network. */
export function catalogVersion(): string {
  const pkg = new URL('../package.json', import.meta.resolve(CATALOG_PACKAGE))
  return (JSON.parse(readFileSync(fileURLToPath(pkg), 'utf8')) as { version: string }).version
}

/** The catalog's keys (USD per 1M tokens) → our price classes. Per-request and per-hour prices are not token prices. */
const CLASS_OF: Record<string, PriceClass> = {
  input_mtok: 'input',
  cache_read_mtok: 'cached_input',
  cache_write_mtok: 'cache_write',
  cache_write_1h_mtok: 'cache_write_1h',
  output_mtok: 'output',
  input_audio_mtok: 'input_audio',
  cache_audio_read_mtok: 'cached_input_audio',
  output_audio_mtok: 'output_audio',
  input_image_mtok: 'input_image',
  cache_image_read_mtok: 'cached_input_image',
  output_image_mtok: 'output_image',
}
const NON_TOKEN = new Set(['web_searches_kcount', 'storage_searches_kcount', 'requests_kcount', 'audio_hours', 'input_audio_hours'])

/**
 * The catalog's flat non-token prices → per-unit prices of our resources (contract v2): per 1,000 web
 * searches → `web_search_calls`, per 1,000 file searches → `file_search_calls`, per audio hour →
 * `audio_seconds`. `input_audio_hours` repeats `audio_hours` for transcription models; `requests_kcount`
 * is a per-request fee the usage reports carry no resource for.
 */
const UNIT_OF: Record<string, { resource: string; per: number }> = {
  web_searches_kcount: { resource: 'web_search_calls', per: 1000 },
  storage_searches_kcount: { resource: 'file_search_calls', per: 1000 },
  audio_hours: { resource: 'audio_seconds', per: 3600 },
}

/**
 * OpenAI's non-reasoning models bill a web search $10 or $25 per 1,000 calls depending on the tool
 * version (`web_search` vs `web_search_preview`), which the usage does not say: their web searches stay
 * unpriced although the catalog lists $10.
 */
const WEB_SEARCH_NOT_FLAT = new Set(['gpt-4o', 'gpt-4o-2024-05-13', 'gpt-4o-mini', 'gpt-4.1', 'gpt-4.1-mini', 'gpt-4.1-nano'])

/** Rates with no `effective_from` in the catalog have applied since before any usage we can hold. */
export const CATALOG_EPOCH = new Date('1970-01-01T00:00:00Z')

/** A catalog number as exact decimal text: decimal.js reads the number's shortest round-trip form. */
const decimalOf = (n: number): string => canonicalDecimal(new Decimal(n).toFixed())

/** `n / per` as exact decimal text; a quotient that does not terminate is refused rather than rounded. */
function exactPerUnit(n: number, per: number): string | undefined {
  const q = new Decimal(decimalOf(n)).dividedBy(per)
  return q.times(per).equals(decimalOf(n)) && q.decimalPlaces() <= 18 ? canonicalDecimal(q.toFixed()) : undefined
}

/**
 * The model strings a catalog match covers: `equals` → the exact id, `starts_with` → a prefix pattern.
 * Regex, contains and ends_with matches cannot be expressed as ids or prefixes and are left out.
 */
function matchTargets(m: MatchLogic): string[] {
  if ('equals' in m) return [m.equals]
  if ('starts_with' in m) return [`${m.starts_with}*`]
  if ('or' in m) return m.or.flatMap(matchTargets)
  return []
}

/** Vision models that bill image input as text tokens (the catalog has no image price for them). */
const OPENAI_IMAGES_AS_TEXT = new Set([
  'chatgpt-4o-latest', 'computer-use', 'gpt-4-turbo', 'gpt-4-vision-preview', 'gpt-4.1', 'gpt-4.1-mini', 'gpt-4.1-nano',
  'gpt-4.5-preview', 'gpt-4o', 'gpt-4o-2024-05-13', 'gpt-4o-mini', 'gpt-5', 'gpt-5-mini', 'gpt-5-nano', 'gpt-5-pro',
  'gpt-5.1', 'gpt-5.2', 'gpt-5.2-pro', 'o1', 'o1-pro', 'o3', 'o3-pro', 'o4-mini',
])

function imagesAsText(provider: string, id: string): boolean {
  if (provider === 'openai') return OPENAI_IMAGES_AS_TEXT.has(id)
  if (provider === 'anthropic') return id !== 'claude-2' && id !== 'claude-v1'
  return provider === 'google' && id.startsWith('gemini-') && !id.includes('embedding')
}

/**
 * Every class the provider bills gets a price: OpenAI does not charge for writing its automatic
 * prompt cache ("0"), and vision models without an image price bill images as text tokens.
 */
function completeClasses(provider: string, id: string, p: Prices): Prices {
  const out = { ...p }
  if (provider === 'openai' && out.cached_input !== undefined && out.cache_write === undefined) out.cache_write = '0'
  if (imagesAsText(provider, id) && out.input !== undefined && out.input_image === undefined) {
    out.input_image = out.input
    if (out.cached_input !== undefined && out.cached_input_image === undefined) out.cached_input_image = out.cached_input
  }
  return out
}

/** One catalog price period: flat prices, or context-length tiers (split when they follow Anthropic's 200K tiers). */
export type Segment = { from: Date; prices: Prices; tiered: boolean; split?: TierSplit; unitPrices: UnitPrice[] }

function unitPricesOf(providerId: string, modelId: string, raw: ModelPrice): UnitPrice[] {
  const out: UnitPrice[] = []
  for (const [key, value] of Object.entries(raw)) {
    const unit = UNIT_OF[key]
    if (!unit || typeof value !== 'number') continue
    if (unit.resource === 'web_search_calls' && providerId === 'openai' && WEB_SEARCH_NOT_FLAT.has(modelId)) continue
    const price = exactPerUnit(value, unit.per)
    if (price !== undefined) out.push({ resource: unit.resource, attributes: {}, price })
  }
  return out
}

function segmentsOf(providerId: string, model: ModelInfo): Segment[] | undefined {
  const list = Array.isArray(model.prices) ? model.prices : [{ prices: model.prices as ModelPrice }]
  const out: Segment[] = []
  for (const c of list) {
    if (c.constraint && c.constraint.type !== 'start_date') return undefined // time-of-day prices: not expressible
    const from = c.constraint ? new Date(`${c.constraint.start_date}T00:00:00Z`) : CATALOG_EPOCH
    const prices: Prices = {}
    const base: Prices = {}
    const long: Prices = {}
    let tiered = false
    let splittable = true
    for (const [key, value] of Object.entries(c.prices)) {
      if (value === undefined || NON_TOKEN.has(key)) continue
      const cls = CLASS_OF[key]
      if (!cls) continue
      if (typeof value === 'number') {
        prices[cls] = base[cls] = long[cls] = decimalOf(value)
        continue
      }
      tiered = true
      const [tier, ...more] = value.tiers
      if (!tier || more.length > 0 || tier.start !== CONTEXT_TIERS.threshold) splittable = false
      else {
        base[cls] = decimalOf(value.base)
        long[cls] = decimalOf(tier.price)
      }
    }
    const complete = (p: Prices) => completeClasses(providerId, model.id, p)
    // Only Anthropic reports usage per context tier (`context_window`), so only there can tiers be priced.
    const split = tiered && splittable && providerId === 'anthropic' ? { base: complete(base), long: complete(long) } : undefined
    out.push({ from, prices: tiered ? {} : complete(prices), tiered, split, unitPrices: unitPricesOf(providerId, model.id, c.prices) })
  }
  return out
}

/** Models whose catalog prices are known to be misfiled (TTS bills audio output, listed as text output). */
const EXCLUDED = (id: string) => id.includes('tts')

/**
 * One provider's catalog as rates. A segment with context-length tiers becomes a rate with no token
 * prices: a usage bucket sums many requests, so usage above the tier cannot be told apart and is never
 * approximated; the empty rate keeps the timeline honest (it ends the previous segment). Where usage
 * says its tier (Anthropic), `context-tiers.ts` adds a rate per tier. Flat per-unit prices (web and file
 * searches, audio hours) do not depend on the context length and stay on every rate of the entry.
 */
export function providerRates(providerId: string, version: string): CatalogRate[] {
  const provider = findProvider({ providerId })
  if (!provider) return []
  const seen = new Set<string>()
  const out: CatalogRate[] = []
  for (const model of provider.models) {
    if (EXCLUDED(model.id)) continue
    const segments = segmentsOf(providerId, model)
    if (!segments || segments.every((s) => !s.tiered && Object.keys(s.prices).length === 0 && s.unitPrices.length === 0)) continue
    // The catalog matches models in order, first match wins: keep the first entry that claims an id.
    const targets = matchTargets(model.match).filter((t) => !seen.has(t))
    targets.forEach((t) => seen.add(t))
    const source = `${CATALOG_PACKAGE}@${version} ${providerId}/${model.id}`
    for (const target of targets) {
      const base: CatalogRate = {
        catalogId: model.id,
        provider: providerId,
        model: target,
        serviceTier: 'default',
        batch: false,
        contextTier: null,
        inferenceGeo: null,
        effectiveFrom: CATALOG_EPOCH,
        effectiveTo: null,
        prices: {},
        unitPrices: [],
        supersedes: null,
        source,
      }
      segments.forEach((s, i) => {
        const tierNote = s.split ? ' (context-length tiers: unpriced without a context tier)' : ' (context-length tiers: unpriced)'
        out.push({ ...base, effectiveFrom: s.from, prices: s.prices, unitPrices: s.unitPrices, source: `${source}${s.tiered ? tierNote : ''}` })
        out.push(...contextTierRates({ ...base, unitPrices: s.unitPrices }, s, segments[i + 1], model.context_window))
      })
    }
  }
  return out
}
