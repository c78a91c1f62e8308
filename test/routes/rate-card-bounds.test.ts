import { Decimal } from 'decimal.js'
import t from 'tap'
import { admin, bearer, build, eachEngine, isProblem, tenantWithKey } from '../helpers.js'
import { newCard as newRateCard, postRates } from '../factories/rate-cards.js'

/**
 * What a rate may name is what usage may carry: a rate card that refuses a value the ledger stores
 * leaves that usage unpriceable, and one that takes a value no usage can carry prices nothing while
 * looking as if it did.
 */
void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const tenant = await tenantWithKey(app)
  const newCard = () => newRateCard(app)
  const post = (card: string, rates: unknown[]) => postRates(app, card, rates)
  const ingest = (body: Record<string, unknown>) => app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(tenant.key), payload: body })
  const totals = async (card: string, from: string, to: string) => {
    const res = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: bearer(tenant.key),
      payload: { query: `{ usage(from: "${from}", to: "${to}", window: TOTAL, rateCard: "${card}") { totals { cost { total complete unpricedTokens } } } }` },
    })
    t.equal(res.json().errors, undefined, res.body.slice(0, 300))
    return res.json().data.usage.totals.cost as { total: string; complete: boolean; unpricedTokens: number }
  }

  t.test('a model id of 256 characters, which usage stores, is priced by its exact rate and listed by ?model=', async (t) => {
    const card = await newCard()
    // 256 characters: 56 of them outside the BMP (two UTF-16 units each).
    const model = `${'😀'.repeat(56)}${'m'.repeat(200)}`
    const price = '1.25'
    const tokens = 3_000_000
    const stored = await ingest({ buckets: [{ start_time: '2025-03-01T00:00:00Z', end_time: '2025-03-01T01:00:00Z', model, input_tokens: tokens }] })
    t.equal(stored.statusCode, 200, 'usage with this model stores')
    const res = await post(card, [{ model, effective_from: '2025-01-01T00:00:00Z', prices: { input: price } }])
    t.equal(res.statusCode, 201, res.body.slice(0, 300))
    const cost = await totals(card, '2025-03-01T00:00:00Z', '2025-03-02T00:00:00Z')
    t.same(cost, { total: new Decimal(tokens).times(price).times('0.000001').toFixed(), complete: true, unpricedTokens: 0 })
    const listed = await app.inject({ method: 'GET', url: `/v1/rate-cards/${card}/rates?model=${encodeURIComponent(model)}&at=2025-03-01T00:00:00Z`, headers: admin })
    t.equal(listed.statusCode, 200, listed.body.slice(0, 300))
    t.same(listed.json().data.map((r: { model: string }) => r.model), [model])
  })

  t.test('a model id longer than usage may carry is refused, naming the rule', async (t) => {
    const card = await newCard()
    const res = await post(card, [{ model: 'm'.repeat(257), effective_from: '2025-01-01T00:00:00Z', prices: { input: '1' } }])
    t.equal(res.statusCode, 400)
    t.ok(isProblem(res))
    t.match(res.json().errors, [{ index: 0, path: 'body.rates.0.model', message: /at most 256 characters/ }])
    const listed = await app.inject({ method: 'GET', url: `/v1/rate-cards/${card}/rates?model=${'m'.repeat(257)}`, headers: admin })
    t.equal(listed.statusCode, 400)
  })

  t.test('a unit price for "tokens", a resource no usage row can carry, is refused and nothing is written', async (t) => {
    const card = await newCard()
    const refused = await ingest({ resources: [{ start_time: '2025-03-01T00:00:00Z', end_time: '2025-03-01T01:00:00Z', model: 'm', resource: 'tokens', quantity: '5' }] })
    t.equal(refused.statusCode, 400, 'usage cannot carry a "tokens" resource row')
    const res = await post(card, [
      { model: 'ok', effective_from: '2025-01-01T00:00:00Z', unit_prices: [{ resource: 'images', price: '0.02' }] },
      { model: 'm', effective_from: '2025-01-01T00:00:00Z', unit_prices: [{ resource: 'images', price: '0.02' }, { resource: 'tokens', price: '5' }] },
    ])
    t.equal(res.statusCode, 400, res.body.slice(0, 300))
    t.ok(isProblem(res))
    t.match(res.json().errors, [{ index: 1, path: 'body.rates.1.unit_prices.1.resource', message: /reserved/ }])
    t.equal(res.json().errors.length, 1)
    const listed = await app.inject({ method: 'GET', url: `/v1/rate-cards/${card}/rates?at=2025-03-01T00:00:00Z`, headers: admin })
    t.same(listed.json().data, [], 'nothing was written')
  })

  t.test('a price longer than the bound is told so, not that it is no decimal string', async (t) => {
    const card = await newCard()
    const long = `0.${'0'.repeat(38)}1`
    const res = await post(card, [{ model: 'm', effective_from: '2025-01-01T00:00:00Z', prices: { input: long }, unit_prices: [{ resource: 'images', price: long }] }])
    t.equal(res.statusCode, 400)
    t.ok(isProblem(res))
    const errors = res.json().errors as { path: string; message: string }[]
    t.same(errors.map((e) => e.path).sort(), ['body.rates.0.prices.input', 'body.rates.0.unit_prices.0.price'])
    for (const e of errors) t.match(e.message, new RegExp(`at most ${long.length - 1} characters`), e.path)
    t.equal((await post(card, [{ model: 'm', effective_from: '2025-01-01T00:00:00Z', prices: { input: long.slice(0, -2) + '1' } }])).statusCode, 201, 'one character less is taken')
  })

  t.test('any service tier usage stores is priced by a rate naming it; tiers ingest renames are refused', async (t) => {
    const card = await newCard()
    const tiers = ['Scale.V2', `${'😀'.repeat(56)}${'t'.repeat(200)}`]
    const tokens = 2_000_000
    const buckets = tiers.map((tier) => ({ start_time: '2025-04-01T00:00:00Z', end_time: '2025-04-01T01:00:00Z', model: 'm', service_tier: tier, input_tokens: tokens }))
    t.equal((await ingest({ buckets })).statusCode, 200, 'usage with these tiers stores')
    const prices = ['0.5', '3']
    const res = await post(card, tiers.map((tier, i) => ({ model: 'm', service_tier: tier, effective_from: '2025-01-01T00:00:00Z', prices: { input: prices[i] } })))
    t.equal(res.statusCode, 201, res.body.slice(0, 300))
    const expected = prices.reduce((sum, p) => sum.plus(new Decimal(tokens).times(p).times('0.000001')), new Decimal(0))
    t.same(await totals(card, '2025-04-01T00:00:00Z', '2025-04-02T00:00:00Z'), { total: expected.toFixed(), complete: true, unpricedTokens: 0 })
    const renamed = await post(card, ['Standard', 'auto', 'BATCH'].map((tier) => ({ model: 'm', service_tier: tier, effective_from: '2025-02-01T00:00:00Z', prices: { input: '1' } })))
    t.equal(renamed.statusCode, 400)
    t.same(renamed.json().errors.map((e: { path: string }) => e.path), [0, 1, 2].map((i) => `body.rates.${i}.service_tier`))
  })
})
