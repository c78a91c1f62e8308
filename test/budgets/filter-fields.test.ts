import { Decimal } from 'decimal.js'
import t from 'tap'
import { admin, bearer, build, eachEngine, tenantWithKey } from '../helpers.js'
import { bucket, PRICES, putBudget } from '../factories/budgets.js'

/**
 * A budget's filter is `usage`'s UsageFilter in snake_case (contract v2 "Budgets"), including the
 * fields v2 added to it: usage_types, context_tiers, inference_geos and resources.
 */
const CONFIG = { BUDGET_EVALUATION_INTERVAL_MS: 'off' }
const JAN = new Date('2026-01-10T12:00:00Z')
const IMAGE_PRICE = '0.04'

void eachEngine(t, async (t, engine) => {
  const server = await build(t, engine, CONFIG)
  const { tenantId, key } = await tenantWithKey(server)
  const card = `card-${tenantId}`
  const h = { ...admin, 'x-tenant-id': tenantId }
  t.equal((await server.inject({ method: 'PUT', url: `/v1/rate-cards/${card}`, headers: h, payload: { description: 'filters' } })).statusCode, 201)
  const rates = await server.inject({
    method: 'POST',
    url: `/v1/rate-cards/${card}/rates`,
    headers: h,
    payload: { rates: [{ model: 'budget-test-model', effective_from: '2000-01-01T00:00:00Z', prices: PRICES, unit_prices: [{ resource: 'images', price: IMAGE_PRICE }] }] },
  })
  t.equal(rates.statusCode, 201, rates.body)
  const start = Math.floor(JAN.getTime() / 1000)
  const posted = await server.inject({
    method: 'POST',
    url: '/v1/usage/buckets',
    headers: bearer(key),
    payload: {
      buckets: [
        bucket(JAN, 10, { context_tier: '0-200k', inference_geo: 'global' }),
        bucket(JAN, 100, { context_tier: '200k-1M', inference_geo: 'us' }),
        bucket(JAN, 1000, { usage_type: 'embeddings' }),
      ],
      resources: [{ start_time: start, end_time: start + 3600, model: 'budget-test-model', resource: 'images', quantity: '3' }],
    },
  })
  t.equal(posted.statusCode, 200, posted.body)

  // Each token costs PRICES.input per 1M tokens; each image IMAGE_PRICE.
  const tokens = (n: number) => new Decimal(PRICES.input).times(n).div(1_000_000).toFixed()
  const cases = [
    ['context_tiers', { context_tiers: ['0-200k'] }, tokens(10)],
    ['inference_geos', { inference_geos: ['us'] }, tokens(100)],
    ['usage_types', { usage_types: ['embeddings'] }, tokens(1000)],
    ['resources', { resources: ['images'] }, new Decimal(IMAGE_PRICE).times(3).toFixed()],
  ] as const
  for (const [name, filter, spent] of cases) {
    const res = await server.inject({ method: 'PUT', url: `/v1/budgets/${name}`, headers: bearer(key), payload: { amount: '10000', period: 'month', rate_card: card, filter } })
    t.equal(res.statusCode, 201, `${name}: accepted (${res.body.slice(0, 300)})`)
    if (res.statusCode !== 201) continue
    t.same(res.json().filter, filter, `${name}: the filter is shown as given`)
    const got = await server.inject({ method: 'GET', url: `/v1/budgets/${name}?at=2026-01-20T00:00:00Z`, headers: bearer(key) })
    t.equal(got.json().spent, spent, `${name}: only the filtered usage is spent`)
  }
  t.ok(await putBudget(server, key, 'unfiltered', { amount: '10000', period: 'month', rate_card: card }))
})
