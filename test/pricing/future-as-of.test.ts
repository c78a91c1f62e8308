import t from 'tap'
import { admin, bearer, build, eachEngine, tenantWithKey, uniqueId } from '../helpers.js'

/**
 * Every page of a listing is priced like its first, even when rates are written between pages (the
 * cursor keeps the first page's pricing instant). A `pricingAsOf` in the future was kept as that
 * instant: a correction posted after page 1 was "recorded before" it, so page 2 priced with the
 * correction — its totals (GraphQL) and its buckets (REST) disagreed with page 1's. An instant after
 * the first page's read prices as of that read: rates not written yet are not known.
 */
void eachEngine(t, async (t, engine) => {
  // No page snapshots: every page is computed afresh, as on a snapshot miss.
  const app = await build(t, engine, { USAGE_PAGE_CACHE_BYTES: '0' })
  const { key } = await tenantWithKey(app)
  const card = uniqueId('card')
  t.equal((await app.inject({ method: 'PUT', url: `/v1/rate-cards/${card}`, headers: admin, payload: {} })).statusCode, 201)
  const posted = await app.inject({
    method: 'POST', url: `/v1/rate-cards/${card}/rates`, headers: admin,
    payload: { rates: [{ model: 'm*', effective_from: '2025-01-01T00:00:00Z', prices: { input: '1' } }] },
  })
  t.equal(posted.statusCode, 201, posted.body)
  const rateId = posted.json().rates[0].id as number
  const bucket = (day: number, model: string) => ({
    start_time: `2025-01-0${day}T00:00:00Z`, end_time: `2025-01-0${day}T01:00:00Z`, model, input_tokens: 1_000_000,
  })
  const stored = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(key), payload: { buckets: [bucket(5, 'm-a'), bucket(5, 'm-b'), bucket(6, 'm-a')] } })
  t.equal(stored.statusCode, 200, stored.body)
  let corrected = false
  const correct = async () => {
    if (corrected) return
    corrected = true
    const res = await app.inject({
      method: 'POST', url: `/v1/rate-cards/${card}/rates`, headers: admin,
      payload: { rates: [{ model: 'm*', effective_from: '2025-01-01T00:00:00Z', supersedes: rateId, prices: { input: '2' } }] },
    })
    t.equal(res.statusCode, 201, res.body)
  }

  t.test('GraphQL usage: page 2 after a correction is priced like page 1', async (t) => {
    const page = async (after: string | null) => {
      const res = await app.inject({
        method: 'POST', url: '/graphql', headers: bearer(key),
        payload: {
          query: `query($after: String) { usage(from: "2025-01-05T00:00:00Z", to: "2025-01-06T00:00:00Z", window: TOTAL, groupBy: [MODEL], rateCard: "${card}", pricingAsOf: "2100-01-01T00:00:00Z", first: 1, after: $after) {
            rows { model cost { total } } totals { cost { total } } pageInfo { endCursor } } }`,
          variables: { after },
        },
      })
      t.equal(res.json().errors, undefined, res.body)
      return res.json().data.usage as { rows: { model: string; cost: { total: string } }[]; totals: { cost: { total: string } }; pageInfo: { endCursor: string } }
    }
    const first = await page(null)
    t.same(first.rows, [{ model: 'm-a', cost: { total: '1' } }])
    t.same(first.totals, { cost: { total: '2' } })
    await correct()
    const second = await page(first.pageInfo.endCursor)
    t.same(second.rows, [{ model: 'm-b', cost: { total: '1' } }], 'priced as page 1 was')
    t.same(second.totals, first.totals, 'the same totals on every page')
  })

  t.test('REST costs: the next page after a correction is priced like the first', async (t) => {
    // Its own card state: the correction above is in force for a listing started now.
    const get = (page?: string) => app.inject({
      method: 'GET',
      url: `/v1/organization/costs?start_time=2025-01-05T00:00:00Z&end_time=2025-01-07T00:00:00Z&limit=1&rate_card=${card}&pricing_as_of=2100-01-01T00:00:00Z${page ? `&page=${page}` : ''}`,
      headers: bearer(key),
    })
    const first = await get()
    t.equal(first.statusCode, 200, first.body)
    const price = first.json().data[0].results[0].amount.value_exact as string
    const fix = await app.inject({
      method: 'POST', url: `/v1/rate-cards/${card}/rates`, headers: admin,
      payload: { rates: [{ model: 'm*', effective_from: '2025-01-06T00:00:00Z', prices: { input: '5' } }] },
    })
    t.equal(fix.statusCode, 201, fix.body)
    const second = await get(first.json().next_page as string)
    t.equal(second.statusCode, 200, second.body)
    t.equal(second.json().data[0].results[0].amount.value_exact, String(Number(price) / 2), 'day 2 (one bucket) priced by the rate page 1 knew')
  })
})
