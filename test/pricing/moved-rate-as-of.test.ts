import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'
import { newCard, postRates, usageCosts } from '../factories/rate-cards.js'

/**
 * A rate moved later and its old start filled in one request (one `recorded_at`): `pricingAsOf` before
 * the request prices January with the old rate, after it with the new one, and never both or neither.
 */
void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const tenant = await tenantWithKey(app)
  const card = await newCard(app)
  const x = (await postRates(app, card, [{ model: 'm', effective_from: '2025-01-01T00:00:00Z', prices: { input: '1' } }])).json().rates[0].id as number
  const hour = (start: string) => ({ start_time: start, end_time: new Date(Date.parse(start) + 3_600_000).toISOString(), model: 'm', input_tokens: 1_000_000 })
  const stored = await app.inject({
    method: 'POST',
    url: '/v1/usage/buckets',
    headers: bearer(tenant.key),
    payload: { buckets: [hour('2025-01-15T00:00:00Z'), hour('2025-02-01T00:00:00Z')] },
  })
  t.equal(stored.statusCode, 200, stored.body)
  const costs = (asOf?: string) => usageCosts(t, app, tenant.key, { from: '2025-01-01T00:00:00Z', to: '2025-03-01T00:00:00Z', window: 'MONTH', rateCard: card, asOf })
  t.same(await costs(), [{ total: '1', complete: true }, { total: '1', complete: true }])
  await sleep(5)
  const before = new Date().toISOString()
  await sleep(5)
  const moved = await postRates(app, card, [
    { model: 'm', effective_from: '2025-01-01T00:00:00Z', prices: { input: '0.5' } },
    { model: 'm', effective_from: '2025-02-01T00:00:00Z', prices: { input: '2' }, supersedes: x },
  ])
  t.equal(moved.statusCode, 201, moved.body.slice(0, 300))
  const recorded = moved.json().rates[0].recorded_at as string
  t.same(await costs(), [{ total: '0.5', complete: true }, { total: '2', complete: true }], 'now: the new January rate, the moved rate from February')
  t.same(await costs(recorded), [{ total: '0.5', complete: true }, { total: '2', complete: true }], 'as of the request’s own instant: all of it')
  t.same(await costs(before), [{ total: '1', complete: true }, { total: '1', complete: true }], 'as of before: the old rate, unchanged')
})
