import { findProvider } from '@pydantic/genai-prices'
import { Decimal } from 'decimal.js'
import t from 'tap'
import { ensureDefaultCard, planImport } from '../../src/pricing/catalog/default-card.js'
import { listRates } from '../../src/db/queries/rate-cards.js'
import { admin, bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

interface RateOut { id: number; model: string; provider: string; service_tier: string; batch: boolean; context_tier: string | null; prices: Record<string, string>; source: string | null; effective_from: string }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['read'])
  const rates = async (query: string) => {
    const res = await app.inject({ method: 'GET', url: `/v1/rate-cards/default/rates?${query}`, headers: bearer(key) })
    t.equal(res.statusCode, 200)
    return res.json().data as RateOut[]
  }
  const one = (list: RateOut[], tier = 'default', batch = false) => list.find((r) => r.service_tier === tier && r.batch === batch && r.context_tier === null)
  const countRates = async () =>
    (await app.testDb.query<{ n: number }>("select count(*)::int8 as n from rates r join rate_cards c on c.id = r.card_id where c.name = 'default'"))[0]!.n

  t.test('the default card exists after startup as a global card', async (t) => {
    const res = await app.inject({ method: 'GET', url: '/v1/rate-cards', headers: bearer(key) })
    t.match(res.json().data, [{ name: 'default', scope: 'global', currency: 'USD' }])
    t.ok((await countRates()) > 300)
  })

  t.test('re-seeding adds nothing', async (t) => {
    const before = await countRates()
    const again = await ensureDefaultCard(app.testDb)
    t.equal(again.inserted, 0)
    t.equal(await countRates(), before)
  })

  t.test('OpenAI list prices match the installed catalog, as exact decimals', async (t) => {
    const openai = findProvider({ providerId: 'openai' })!
    for (const id of ['gpt-5', 'gpt-5-mini', 'gpt-5-nano', 'gpt-4.1', 'gpt-4.1-mini', 'gpt-4o', 'gpt-4o-mini', 'o4-mini', 'gpt-realtime']) {
      const entry = openai.models.find((m) => m.id === id)!
      const p = entry.prices as Record<string, number>
      const r = one(await rates(`model=${id}`))!
      t.ok(r, id)
      t.ok(new Decimal(r.prices.input!).equals(p.input_mtok!), `${id} input`)
      t.ok(new Decimal(r.prices.output!).equals(p.output_mtok!), `${id} output`)
      if (p.cache_read_mtok !== undefined) t.ok(new Decimal(r.prices.cached_input!).equals(p.cache_read_mtok), `${id} cached input`)
      if (p.input_audio_mtok !== undefined) t.ok(new Decimal(r.prices.input_audio!).equals(p.input_audio_mtok), `${id} audio`)
      t.match(r.source, /^@pydantic\/genai-prices@\d/)
      for (const v of Object.values(r.prices)) t.match(v, /^\d+(\.\d*[1-9])?$/, 'plain, no trailing zeros')
    }
  })

  t.test('every billed class is set: free cache writes are "0", images bill as text', async (t) => {
    const r = one(await rates('model=gpt-5-mini-2025-08-07'))!
    t.same(r.prices, { input: '0.25', cached_input: '0.025', cache_write: '0', output: '2', input_image: '0.25', cached_input_image: '0.025' })
    t.equal(r.model, 'gpt-5-mini-2025-08-07', 'the dated snapshot resolves to its own rate, never to gpt-5')
    const anthropic = one(await rates('provider=anthropic&model=claude-haiku-4-5-20251001'))!
    t.equal(anthropic.model, 'claude-haiku-4-5*')
    t.match(anthropic.prices, { input: '1', cache_write: '1.25', cache_write_1h: '2', cached_input: '0.1', output: '5', input_image: '1' })
  })

  t.test('no OpenAI pattern is a bare family prefix that would catch another family', async (t) => {
    const all = await rates('')
    const patterns = all.filter((r) => r.provider === 'openai' && r.model.endsWith('*')).map((r) => r.model)
    for (const bare of ['gpt-5*', 'gpt-5-*', 'gpt-4o*', 'gpt-4o-*', 'gpt-4.1*', 'o3*', 'o4-mini*']) t.notOk(patterns.includes(bare), bare)
    const audio = one(await rates('model=gpt-4o-audio-preview-2024-12-17'))
    t.equal(audio?.model, 'gpt-4o-audio-preview*')
    t.equal(audio?.prices.input_audio, undefined, 'audio the catalog does not price stays unpriced')
  })

  t.test('history: o3 is priced by the rate in force at the time', async (t) => {
    t.equal(one(await rates('model=o3-2025-04-16&at=2025-06-09T23:59:59Z'))!.prices.input, '10')
    t.equal(one(await rates('model=o3-2025-04-16&at=2025-06-10T00:00:00Z'))!.prices.input, '2')
  })

  t.test('tier prices: batch and flex at half, priority from OpenAI’s list', async (t) => {
    const list = await rates('model=gpt-5-mini-2025-08-07')
    const std = one(list)!
    for (const tierRate of [one(list, 'default', true)!, one(list, 'flex')!]) {
      for (const [cls, price] of Object.entries(std.prices)) t.ok(new Decimal(tierRate.prices[cls]!).times(2).equals(price), `${tierRate.service_tier} ${cls}`)
      t.match(tierRate.source, /openai/i)
    }
    t.match(one(list, 'priority')!, { prices: { input: '0.45', cached_input: '0.045', output: '3.6' }, source: /api-priority-processing/ })
    const o3 = await rates('model=o3&at=2025-05-01T00:00:00Z')
    t.equal(one(o3, 'default', true)!.prices.input, '5', 'batch follows the standard timeline')
    t.equal(one(o3, 'priority'), undefined, 'priority prices start with the current standard price')
  })

  t.test('models with context-length tiers are known but unpriced', async (t) => {
    const r = one(await rates('model=gpt-5.4'))!
    t.same(r.prices, {})
    t.match(r.source, /unpriced/)
  })

  t.test('a refresh supersedes a slot whose catalog price changed, and keeps hand corrections', async (t) => {
    const [card] = await app.testDb.query<{ id: number }>("select id from rate_cards where name = 'default'")
    const stored = await listRates(app.testDb, card!.id)
    const gone = new Set(stored.map((r) => r.supersedes))
    const target = stored.find((r) => r.provider === 'openai' && r.model === 'gpt-5-nano' && r.serviceTier === 'default' && !r.batch && !gone.has(r.id))!
    const catalog = stored.filter((r) => !gone.has(r.id)).map(({ id: _id, cardId: _c, recordedAt: _r, supersedes: _s, ...r }) => ({ ...r, supersedes: null }))
    const changed = catalog.map((r) => (r.model === target.model && r.serviceTier === 'default' && !r.batch ? { ...r, prices: { ...r.prices, input: '0.06' } } : r))
    const { rates: plan } = planImport(stored, changed)
    t.equal(plan.length, 1, JSON.stringify(plan))
    t.match(plan[0], { model: 'gpt-5-nano', supersedes: target.id, prices: { input: '0.06' } })

    const fix = await app.inject({
      method: 'POST',
      url: '/v1/rate-cards/default/rates',
      headers: admin,
      payload: { rates: [{ model: 'gpt-5-nano', effective_from: target.effectiveFrom.toISOString(), prices: { input: '0.07' }, supersedes: target.id }] },
    })
    t.equal(fix.statusCode, 201)
    t.equal((await ensureDefaultCard(app.testDb)).inserted, 0, 'the unchanged catalog does not undo the correction')
    t.equal(one(await rates('model=gpt-5-nano'))!.prices.input, '0.07')
  })
})
