import { Decimal } from 'decimal.js'
import t from 'tap'
import { admin, bearer, build, eachEngine, tenantWithKey } from '../helpers.js'
import { postBuckets } from '../factories/buckets.js'

// Rates keyed by context tier and inference geo, `*` as a rate model, 1-hour cache writes priced apart,
// the new GraphQL dimensions — against an independent decimal.js computation.

const DAY = { start_time: '2025-08-01T00:00:00Z', end_time: '2025-08-02T00:00:00Z' }
const M = new Decimal('0.000001')

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const card = 'tiers'
  t.equal((await app.inject({ method: 'PUT', url: `/v1/rate-cards/${card}`, headers: admin, payload: {} })).statusCode, 201)
  const base = { provider: 'anthropic', effective_from: '2025-01-01T00:00:00Z' }
  const rates: { model: string; prices: Record<string, string>; [k: string]: unknown }[] = [
    // A tiered model: nothing for untiered usage, one price per tier, and a US surcharge on the long tier.
    { ...base, model: 'claude-x', prices: {} },
    { ...base, model: 'claude-x', context_tier: '0-200k', prices: { input: '3', cached_input: '0.3', cache_write: '3.75', cache_write_1h: '6', output: '15' } },
    { ...base, model: 'claude-x', context_tier: '200k-1M', prices: { input: '6', cached_input: '0.6', cache_write: '7.5', cache_write_1h: '12', output: '22.5' } },
    { ...base, model: 'claude-x', context_tier: '200k-1M', inference_geo: 'us', prices: { input: '6.6', cached_input: '0.66', cache_write: '8.25', cache_write_1h: '13.2', output: '24.75' } },
    // Any other model: `*`.
    { ...base, model: '*', prices: { input: '1', output: '5' } },
  ]
  const posted = await app.inject({ method: 'POST', url: `/v1/rate-cards/${card}/rates`, headers: admin, payload: { rates } })
  t.equal(posted.statusCode, 201, posted.body)
  t.match(posted.json().rates[3], { context_tier: '200k-1M', inference_geo: 'us', unit_prices: [] })

  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const row = (over: Record<string, unknown>) => ({
    ...DAY,
    provider: 'anthropic',
    model: 'claude-x',
    input_uncached_tokens: 1000,
    input_cached_tokens: 200,
    input_cache_write_tokens: 300,
    input_cache_write_1h_tokens: 400,
    output_tokens: 500,
    ...over,
  })
  const buckets = [
    row({ context_tier: '0-200k', inference_geo: 'global' }),
    row({ context_tier: '200k-1M', inference_geo: 'global' }),
    row({ context_tier: '200k-1M', inference_geo: 'us' }),
    row({ context_tier: null, inference_geo: 'us' }),
    row({ model: 'other-model', input_cached_tokens: 0, input_cache_write_tokens: 0, input_cache_write_1h_tokens: 0, usage_type: 'embeddings' }),
  ]
  t.equal((await postBuckets(app, key, { buckets })).statusCode, 200)

  const cost = (p: Record<string, string> | undefined, b: Record<string, number>) => {
    b = { input_cached_tokens: 0, input_cache_write_tokens: 0, input_cache_write_1h_tokens: 0, ...b } as Record<string, number>
    if (!p) return { total: new Decimal(0), unpriced: b.input_uncached_tokens! + b.input_cached_tokens! + b.input_cache_write_tokens! + b.input_cache_write_1h_tokens! + b.output_tokens! }
    const parts: [number, string | undefined][] = [
      [b.input_uncached_tokens!, p.input],
      [b.input_cached_tokens ?? 0, p.cached_input],
      [b.input_cache_write_tokens ?? 0, p.cache_write],
      [b.input_cache_write_1h_tokens ?? 0, p.cache_write_1h],
      [b.output_tokens!, p.output],
    ]
    let total = new Decimal(0)
    let unpriced = 0
    for (const [n, price] of parts) {
      if (price === undefined) unpriced += n
      else total = total.plus(new Decimal(n).times(price).times(M))
    }
    return { total, unpriced }
  }
  const expected = [
    cost(rates[1]!.prices, buckets[0] as never),
    cost(rates[2]!.prices, buckets[1] as never),
    cost(rates[3]!.prices, buckets[2] as never),
    cost(undefined, buckets[3] as never), // untiered usage of a tiered model: the priceless null-tier rate
    cost(rates[4]!.prices, buckets[4] as never),
  ]

  const res = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: bearer(key),
    payload: {
      query: `{ usage(from: "2025-08-01T00:00:00Z", to: "2025-08-02T00:00:00Z", window: TOTAL, rateCard: "${card}",
          groupBy: [MODEL, USAGE_TYPE, CONTEXT_TIER, INFERENCE_GEO]) {
        rows { model usageType contextTier inferenceGeo cacheWriteTokens cacheWrite1hTokens cost { total cacheWrite unpricedTokens complete } }
        totals { cacheWrite1hTokens cost { total unpricedTokens complete } } } }`,
    },
  })
  const body = res.json() as { data: { usage: { rows: Record<string, unknown>[]; totals: { cacheWrite1hTokens: number; cost: Record<string, unknown> } } }; errors?: unknown }
  t.equal(body.errors, undefined, JSON.stringify(body.errors))
  const rows = body.data.usage.rows
  const find = (model: string, ctx: string | null, geo: string | null) => rows.find((r) => r.model === model && r.contextTier === ctx && r.inferenceGeo === geo)!
  const got = [find('claude-x', '0-200k', 'global'), find('claude-x', '200k-1M', 'global'), find('claude-x', '200k-1M', 'us'), find('claude-x', null, 'us'), find('other-model', null, null)]
  got.forEach((r, i) => {
    t.same((r.cost as Record<string, unknown>).total, expected[i]!.total.toFixed(), `row ${i} priced by the one rate that applies`)
    t.equal((r.cost as Record<string, unknown>).unpricedTokens, expected[i]!.unpriced)
  })
  t.match(got[0], { usageType: 'completions', cacheWriteTokens: 700, cacheWrite1hTokens: 400 })
  t.equal(got[4]!.usageType, 'embeddings')
  const total = expected.reduce((s, e) => s.plus(e.total), new Decimal(0))
  t.match(body.data.usage.totals, { cacheWrite1hTokens: 1600, cost: { total: total.toFixed(), complete: false } })

  const filtered = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: bearer(key),
    payload: { query: `{ usage(from: "2025-08-01T00:00:00Z", to: "2025-08-02T00:00:00Z", window: TOTAL, rateCard: "${card}", filter: { contextTiers: ["200k-1M"], inferenceGeos: ["us"] }) { totals { cost { total } } } }` },
  })
  t.same(filtered.json().data.usage.totals.cost.total, expected[2]!.total.toFixed(), 'filters by context tier and geo')

  t.test('equally specific unit prices that could match one row → 409; a unit price without resource → 400', async (t) => {
    const ambiguous = await app.inject({
      method: 'POST',
      url: `/v1/rate-cards/${card}/rates`,
      headers: admin,
      payload: { rates: [{ model: 'dall-e-2', effective_from: '2025-01-01T00:00:00Z', unit_prices: [
        { resource: 'images', attributes: { size: '1024x1024' }, price: '0.02' },
        { resource: 'images', attributes: { source: 'image.generation' }, price: '0.03' },
        { resource: 'images', attributes: { size: '256x256' }, price: '0.016' },
      ] }] },
    })
    t.equal(ambiguous.statusCode, 409, ambiguous.body)
    t.match(ambiguous.json().errors, [
      { index: 0, path: 'unit_prices.1', message: /unit_prices\[1\] and unit_prices\[0\]/ },
      { index: 0, path: 'unit_prices.2', message: /unit_prices\[2\] and unit_prices\[1\]/ },
    ])
    // Every clashing pair used to be a problem: 1,000 equal unit prices were 499,500 problems per rate
    // (seconds of event loop; 20 such rates took 3 GB). Each ambiguous unit price is named once.
    const equal = Array.from({ length: 1000 }, () => ({ resource: 'images', price: '0.02' }))
    const many = await app.inject({
      method: 'POST',
      url: `/v1/rate-cards/${card}/rates`,
      headers: admin,
      payload: { rates: ['a', 'b', 'c', 'd'].map((m) => ({ model: `dall-e-${m}`, effective_from: '2025-01-01T00:00:00Z', unit_prices: equal })) },
    })
    t.equal(many.statusCode, 409)
    t.match(many.json(), { error_count: 4 * 999, truncated: true })
    t.match(many.json().errors[0], { index: 0, path: 'unit_prices.1', message: /unit_prices\[1\] and unit_prices\[0\]/ })
    const bad = await app.inject({
      method: 'POST',
      url: `/v1/rate-cards/${card}/rates`,
      headers: admin,
      payload: { rates: [{ model: 'dall-e-2', effective_from: '2025-01-01T00:00:00Z', unit_prices: [{ price: '0.02' }, { resource: 'images', price: '-1', attributes: { size: 5 } }] }] },
    })
    t.equal(bad.statusCode, 400, bad.body)
    t.equal(bad.json().errors.length, 3)
  })
})
