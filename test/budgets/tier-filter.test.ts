import { Decimal } from 'decimal.js'
import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'
import { bucket, createCard, postBuckets, PRICES } from '../factories/budgets.js'

/**
 * A service-tier filter means what the tier means at ingest (`normaliseTier`): usage reported as
 * `standard` or `auto` (OpenAI, Anthropic) is stored as `default`, so a budget filtered on
 * `service_tiers: ["standard"]` — the name the provider's own reports use — spent nothing, for ever, and
 * GraphQL `serviceTiers: ["standard"]` found no usage. The filter now normalises its values the same way.
 */
const JAN = new Date('2026-01-10T12:00:00Z')
const cost = (tokens: number) => new Decimal(PRICES.input).times(tokens).div(1_000_000).toFixed()

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BUDGET_EVALUATION_INTERVAL_MS: 'off' })
  const { tenantId, key } = await tenantWithKey(app)
  const card = await createCard(app, tenantId)
  await postBuckets(app, key, [bucket(JAN, 10, { service_tier: 'standard' }), bucket(JAN, 100, { service_tier: 'priority' })])

  t.test('a budget filtered on service tier "standard" spends the usage reported as standard', async (t) => {
    for (const [name, tiers, spent] of [
      ['std', ['standard'], cost(10)],
      ['auto', ['Auto'], cost(10)],
      ['default', ['default'], cost(10)],
      ['batch', ['batch'], '0'],
    ] as const) {
      const res = await app.inject({
        method: 'PUT',
        url: `/v1/budgets/${name}`,
        headers: bearer(key),
        payload: { amount: '10000', period: 'month', rate_card: card, filter: { service_tiers: tiers } },
      })
      t.equal(res.statusCode, 201, res.body.slice(0, 300))
      const got = await app.inject({ method: 'GET', url: `/v1/budgets/${name}?at=2026-01-20T00:00:00Z`, headers: bearer(key) })
      t.equal(got.json().spent, spent, `${tiers.join(',')}: ${spent}`)
    }
  })

  t.test('GraphQL usage filtered on serviceTiers ["standard"] finds it', async (t) => {
    const res = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: bearer(key),
      payload: {
        query: `{ usage(from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z", window: TOTAL, rateCard: "${card}", filter: { serviceTiers: ["standard"] }) { totals { inputTokens cost { total } } } }`,
      },
    })
    const body = res.json()
    t.equal(body.errors, undefined)
    t.same(body.data.usage.totals, { inputTokens: 10, cost: { total: cost(10) } })
  })
})
