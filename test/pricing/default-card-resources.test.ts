import { findProvider } from '@pydantic/genai-prices'
import { Decimal } from 'decimal.js'
import t from 'tap'
import { defaultCardRates } from '../../src/pricing/catalog/default-card.js'
import { checkNewRates } from '../../src/pricing/rate-checks.js'
import { RateInputSchema } from '../../src/routes/rate-cards/schemas.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// The default card's per-unit prices: catalog-derived ones against the catalog read directly,
// hand-entered ones as listed in docs/pricing-catalog.md, and every rate valid as if posted by hand.

interface UnitOut { resource: string; attributes: Record<string, string>; price: string }
interface RateOut { model: string; service_tier: string; batch: boolean; context_tier: string | null; prices: Record<string, string>; unit_prices: UnitOut[]; source: string }

const openai = findProvider({ providerId: 'openai' })!
const catalogPrice = (id: string, key: string) => (openai.models.find((m) => m.id === id)!.prices as Record<string, number>)[key]!

t.test('every default-card rate passes the checks a posted rate passes: schema, unit-price ambiguity, overlaps', async (t) => {
  const rates = defaultCardRates()
  const wire = rates.map((r) => ({
    provider: r.provider,
    model: r.model,
    service_tier: r.serviceTier,
    batch: r.batch,
    context_tier: r.contextTier,
    inference_geo: r.inferenceGeo,
    effective_from: r.effectiveFrom.toISOString(),
    effective_to: r.effectiveTo?.toISOString() ?? null,
    prices: r.prices,
    unit_prices: r.unitPrices,
    source: r.source,
  }))
  const invalid = wire.flatMap((w, i) => {
    const parsed = RateInputSchema.safeParse(w)
    return parsed.success ? [] : [{ i, model: w.model, issues: parsed.error.issues }]
  })
  t.same(invalid, [])
  const checked = checkNewRates([], rates.map(({ catalogId: _c, ...r }) => r))
  t.same(checked, { invalid: [], conflicts: [] })
  t.ok(rates.some((r) => r.unitPrices.length > 0))
})

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['read'])
  const resolved = async (model: string) => {
    const res = await app.inject({ method: 'GET', url: `/v1/rate-cards/default/rates?provider=openai&model=${encodeURIComponent(model)}`, headers: bearer(key) })
    t.equal(res.statusCode, 200)
    const list = res.json().data as RateOut[]
    return list.find((r) => r.service_tier === 'default' && !r.batch && r.context_tier === null)!
  }
  const unit = (r: RateOut, resource: string, attributes: Record<string, string> = {}) =>
    r.unit_prices.find((u) => u.resource === resource && JSON.stringify(u.attributes) === JSON.stringify(attributes))?.price

  t.test('catalog per-unit prices: transcription seconds, web and file search calls', async (t) => {
    const whisper = await resolved('whisper-1')
    t.same(whisper.prices, {}, 'whisper-1 bills no tokens')
    t.ok(new Decimal(unit(whisper, 'audio_seconds')!).times(3600).equals(catalogPrice('whisper-1', 'audio_hours')), 'per second = per hour ÷ 3600')
    t.match(whisper.source, /genai-prices@.* openai\/whisper-1/)
    const mini = await resolved('gpt-5-mini-2025-08-07')
    t.ok(new Decimal(unit(mini, 'web_search_calls')!).times(1000).equals(catalogPrice('gpt-5-mini', 'web_searches_kcount')))
    t.ok(new Decimal(unit(mini, 'file_search_calls')!).times(1000).equals(catalogPrice('gpt-5-mini', 'storage_searches_kcount')))
    t.equal(unit(await resolved('gpt-4o'), 'web_search_calls'), undefined, 'gpt-4o web searches cost $10 or $25 per 1,000 by tool version: unpriced')
  })

  t.test('hand-entered OpenAI prices, marked unverified', async (t) => {
    const tts = await resolved('tts-1')
    t.equal(unit(tts, 'characters'), '0.000015')
    t.equal(unit(await resolved('tts-1-hd'), 'characters'), '0.00003')
    const dalle2 = await resolved('dall-e-2')
    t.same(
      Object.fromEntries(dalle2.unit_prices.map((u) => [u.attributes.size, u.price])),
      { '256x256': '0.016', '512x512': '0.018', '1024x1024': '0.02' },
      'per image by size',
    )
    t.match(dalle2.source, /^unverified — from OpenAI's published price list as of \d{4}-\d{2}/)
    const any = await resolved('some-model-nobody-priced')
    t.equal(any.model, '*')
    t.same(any.prices, {}, 'no token prices on * (unknown models stay unpriced)')
    t.same(
      Object.fromEntries(any.unit_prices.map((u) => [u.resource, u.price])),
      { code_interpreter_sessions: '0.03', file_search_calls: '0.0025', storage_bytes: '0.1' },
    )
  })

  t.test('prices that depend on what usage does not carry stay unpriced', async (t) => {
    const dalle3 = await resolved('dall-e-3')
    t.equal(dalle3.model, '*', 'dall-e-3 has no rate of its own (its price depends on quality)')
    t.equal(unit(dalle3, 'images'), undefined)
    t.notOk((await resolved('gpt-image-1')).unit_prices.some((u) => u.resource === 'images'))
    t.notOk((await resolved('gpt-4o-mini-tts')).unit_prices.some((u) => u.resource === 'characters'))
  })
})
