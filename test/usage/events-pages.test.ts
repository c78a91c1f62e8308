import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// Pages of `events` are offsets into one result. Events kept arriving between pages, so newest first an
// event received after page 1 pushed page 1's last row onto page 2 (listed twice) and changed the totals.

const PAGE = `query($after: String) {
  events(from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z", first: 2, after: $after) {
    rows { id } totals { requests inputTokens } pageInfo { hasNextPage endCursor } } }`

interface Page {
  rows: { id: string }[]
  totals: { requests: number; inputTokens: number }
  pageInfo: { hasNextPage: boolean; endCursor: string | null }
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BUDGET_EVALUATION_INTERVAL_MS: 'off' })
  const { key } = await tenantWithKey(app)
  const post = async (...ids: [string, string][]) => {
    const res = await app.inject({
      method: 'POST', url: '/v1/usage/events', headers: bearer(key),
      payload: { events: ids.map(([id, timestamp]) => ({ id, timestamp, model: 'gpt-4o-mini', input_tokens: 10, output_tokens: 1 })) },
    })
    t.equal(res.statusCode, 200, res.body)
  }
  const page = async (after: string | null): Promise<Page> => {
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query: PAGE, variables: { after } } })
    const body = res.json() as { data: { events: Page }; errors?: unknown }
    t.equal(body.errors, undefined)
    return body.data.events
  }

  t.test('events received while a client pages newest first are neither repeated nor counted', async (t) => {
    await post(['e1', '2026-01-10T10:00:00Z'], ['e2', '2026-01-10T11:00:00Z'], ['e3', '2026-01-10T12:00:00Z'], ['e4', '2026-01-10T13:00:00Z'])
    const first = await page(null)
    t.same(first.rows.map((r) => r.id), ['e4', 'e3'])
    // A newer and an older event arrive before the next page is asked for.
    await post(['e5', '2026-01-10T14:00:00Z'], ['e0', '2026-01-10T09:00:00Z'])
    const second = await page(first.pageInfo.endCursor)
    t.same(second.rows.map((r) => r.id), ['e2', 'e1'], 'the rest of the first page’s result, once')
    t.same(second.totals, first.totals, 'totals of the same result')
    t.equal(second.pageInfo.hasNextPage, false)
    const fresh = await page(null)
    t.same(fresh.rows.map((r) => r.id), ['e5', 'e4'], 'a new first page sees them')
    t.equal(fresh.totals.requests, 6)
  })
})
