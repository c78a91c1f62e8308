import { setTimeout as sleep } from 'node:timers/promises'
import type { LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'
import { newCard, postRates } from '../factories/rate-cards.js'

/**
 * `pricingAsOf` reproduces an answer only if a rate that a query could not see yet never counts as
 * recorded before that query's instant. A rate written while its card was locked by another writer
 * used to be stamped with its transaction's start, before the wait: a query priced as of an instant
 * during the wait saw the old price, and the same query after the commit the new one.
 */
void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const tenant = await tenantWithKey(app)
  const card = await newCard(app)
  const posted = await postRates(app, card, [{ model: 'm', effective_from: '2025-01-01T00:00:00Z', prices: { input: '1' } }])
  t.equal(posted.statusCode, 201)
  const firstId = posted.json().rates[0].id as number
  const bucket = { start_time: '2025-01-05T00:00:00Z', end_time: '2025-01-05T01:00:00Z', model: 'm', input_tokens: 1_000_000 }
  t.equal((await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(tenant.key), payload: { buckets: [bucket] } })).statusCode, 200)
  const costAsOf = async (asOf: Date) => {
    const res = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: bearer(tenant.key),
      payload: { query: `{ usage(from: "2025-01-05T00:00:00Z", to: "2025-01-06T00:00:00Z", window: TOTAL, rateCard: "${card}", pricingAsOf: "${asOf.toISOString()}") { totals { cost { total } } } }` },
    })
    t.equal(res.json().errors, undefined)
    return res.json().data.usage.totals.cost.total as string
  }

  // Another writer holds the card (as a catalog import would); the correction waits for it. On PGlite
  // the correction's transaction cannot even begin before the holder's ends (one connection).
  let asOf = new Date()
  let correction: Promise<LightMyRequestResponse> | undefined
  await app.testDb.transaction(async (tx) => {
    await tx.query('select id from rate_cards where name = $1 for update', [card])
    correction = postRates(app, card, [{ model: 'm', effective_from: '2025-01-01T00:00:00Z', supersedes: firstId, prices: { input: '2' } }])
    await sleep(300)
    asOf = new Date()
    await sleep(300)
  })
  const written = await correction!
  t.equal(written.statusCode, 201, written.body)
  const recordedAt = new Date(written.json().rates[0].recorded_at as string)
  t.ok(recordedAt > asOf, `recorded ${recordedAt.toISOString()}, after the instant ${asOf.toISOString()} at which it was not visible`)
  t.equal(await costAsOf(asOf), '1', 'as of the instant during the wait: the price then')
  t.equal(await costAsOf(new Date()), '2', 'now: the correction')
})
