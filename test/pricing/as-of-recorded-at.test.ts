import t from 'tap'
import { admin, bearer, build, eachEngine, tenantWithKey, uniqueId } from '../helpers.js'

/**
 * A rate posted answers its `recorded_at`; `pricingAsOf` (and the mirrors' `pricing_as_of`) at exactly
 * that instant prices with it ("rates recorded after this instant are ignored"). Instants are written and
 * read to the millisecond, so a rate stamped with the microseconds of its statement was recorded after
 * the instant it said, and an invoice reproduced as of that instant left it out.
 */
void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const tenant = await tenantWithKey(app)
  const bucket = { start_time: '2025-01-05T00:00:00Z', end_time: '2025-01-05T01:00:00Z', model: 'm', input_tokens: 1_000_000 }
  t.equal((await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(tenant.key), payload: { buckets: [bucket] } })).statusCode, 200)

  // Several cards: a statement that happens to start on a whole millisecond proves nothing.
  for (let i = 0; i < 3; i++) {
    const card = uniqueId('card')
    t.equal((await app.inject({ method: 'PUT', url: `/v1/rate-cards/${card}`, headers: admin, payload: {} })).statusCode, 201)
    const posted = await app.inject({
      method: 'POST',
      url: `/v1/rate-cards/${card}/rates`,
      headers: admin,
      payload: { rates: [{ model: 'm', effective_from: '2025-01-01T00:00:00Z', prices: { input: '1.5' } }] },
    })
    t.equal(posted.statusCode, 201, posted.body)
    const recordedAt = posted.json().rates[0].recorded_at as string

    const gql = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: bearer(tenant.key),
      payload: { query: `{ usage(from: "2025-01-05T00:00:00Z", to: "2025-01-06T00:00:00Z", window: TOTAL, rateCard: "${card}", pricingAsOf: "${recordedAt}") { totals { cost { total complete } } } }` },
    })
    t.same(gql.json().data?.usage.totals.cost, { total: '1.5', complete: true }, `GraphQL as of the rate's recorded_at ${recordedAt} prices with it`)

    const rest = await app.inject({
      method: 'GET',
      url: `/v1/organization/costs?start_time=2025-01-05T00:00:00Z&end_time=2025-01-06T00:00:00Z&rate_card=${card}&pricing_as_of=${encodeURIComponent(recordedAt)}`,
      headers: bearer(tenant.key),
    })
    t.equal(rest.statusCode, 200, rest.body)
    t.same(rest.json().data[0].results.map((r: { amount: { value_exact: string }; complete: boolean }) => [r.amount.value_exact, r.complete]), [['1.5', true]],
      'the costs mirror as of that instant prices with it too')
  }
})
