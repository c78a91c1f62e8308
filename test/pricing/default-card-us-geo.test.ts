import { findProvider, type ModelPrice } from '@pydantic/genai-prices'
import { Decimal } from 'decimal.js'
import t from 'tap'
import { postBuckets } from '../factories/buckets.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// Anthropic's US-only inference (`inference_geo: us`) is billed at a surcharge the catalog package does
// not carry. The default card leaves it unpriced — a priceless `us` copy of every Anthropic rate (each
// context tier and batch) — rather than pricing it at the any-geo rate. Other geos keep the catalog
// price, checked against the catalog read directly and decimal.js.

const T0 = Date.UTC(2026, 0, 10) / 1000
const HAIKU = 'claude-haiku-4-5-20251001'
const SONNET = 'claude-sonnet-4-5-20250929' // tiered by context in the catalog
const M = new Decimal('0.000001')
const catalogPrices = (id: string) => {
  const p = findProvider({ providerId: 'anthropic' })!.models.find((m) => m.id === id)!.prices
  return (Array.isArray(p) ? p.at(-1)!.prices : p) as ModelPrice
}
const haiku = catalogPrices('claude-haiku-4-5') as Record<string, number>

const row = (model: string, geo: string | null, o: Record<string, unknown> = {}) => ({
  start_time: T0, end_time: T0 + 3600, provider: 'anthropic', model, inference_geo: geo, input_tokens: 1000, output_tokens: 200, ...o,
})
const BUCKETS = [
  row(HAIKU, 'us'),
  row(HAIKU, 'global', { account_id: 'acct_2' }),
  row(SONNET, 'us', { context_tier: '0-200k' }),
  row(SONNET, 'us', { context_tier: '0-200k', batch: true, account_id: 'acct_2' }),
]

const USAGE = `{ usage(from: "2026-01-10T00:00:00Z", to: "2026-01-11T00:00:00Z", window: TOTAL, groupBy: [MODEL, INFERENCE_GEO, BATCH]) {
  rows { model inferenceGeo batch inputTokens outputTokens cost { total complete unpricedTokens } } } }`

interface Row { model: string; inferenceGeo: string | null; batch: boolean | null; inputTokens: number; outputTokens: number; cost: { total: string; complete: boolean; unpricedTokens: number } }
interface RateOut { model: string; batch: boolean; context_tier: string | null; inference_geo: string | null; prices: Record<string, string>; unit_prices: unknown[]; source: string }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const posted = await postBuckets(app, key, { buckets: BUCKETS })
  t.equal(posted.statusCode, 200, posted.body)

  t.test('us usage is unpriced, never priced at the any-geo rate; other geos keep the catalog price', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query: USAGE } })
    const body = res.json() as { data: { usage: { rows: Row[] } }; errors?: unknown }
    t.equal(body.errors, undefined, JSON.stringify(body.errors))
    const rows = body.data.usage.rows
    const us = rows.filter((r) => r.inferenceGeo === 'us')
    t.equal(us.length, 3, 'haiku, sonnet (0-200k tier) and sonnet batch')
    for (const r of us) t.same(r.cost, { total: '0', complete: false, unpricedTokens: r.inputTokens + r.outputTokens }, `${r.model} batch=${r.batch}`)
    const global = rows.find((r) => r.inferenceGeo === 'global')!
    const want = new Decimal(1000).times(haiku.input_mtok!).plus(new Decimal(200).times(haiku.output_mtok!)).times(M)
    t.same(global.cost, { total: want.toFixed(), complete: true, unpricedTokens: 0 }, 'global: the catalog price')
  })

  t.test('every Anthropic rate has a priceless us copy (same tier, batch and timeline), marked in its source', async (t) => {
    const res = await app.inject({ method: 'GET', url: `/v1/rate-cards/default/rates?provider=anthropic&model=${SONNET}`, headers: bearer(key) })
    const list = res.json().data as RateOut[]
    const us = list.filter((r) => r.inference_geo === 'us')
    const any = list.filter((r) => r.inference_geo === null)
    const slot = (r: RateOut) => `${r.batch}|${r.context_tier}`
    t.same(us.map(slot).sort(), any.map(slot).sort())
    for (const r of us) {
      t.same([r.prices, r.unit_prices], [{}, []])
      t.match(r.source, /US-only inference .*unpriced rather than priced at the any-geo rate/)
    }
  })
})
