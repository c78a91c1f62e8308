import t, { type Test } from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// A cursor is bound to its query by a hash of the arguments. graphql-js hands a resolver the arguments
// in the schema's order on a query's first request; from the second on, the query runs compiled by
// graphql-jit, which hands defaulted arguments first. The hash was taken over the arguments in the
// order given, so the first page's cursor of a new query text was refused on page 2 ("the cursor is
// not valid for this query") whenever a given argument comes before a defaulted one (`events(period:
// $period, …)`). The usage case (a filter with a variable) held before and is kept as a guard.

const DAY = Date.parse('2025-10-01T00:00:00Z')
const EVENTS = `query($period: Period, $after: String) { events(period: $period, orderBy: TIME_ASC, first: 1, after: $after) {
  rows { id } pageInfo { hasNextPage endCursor } } }`
const USAGE = `query($models: [String!], $after: String) { usage(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", window: HOUR,
  filter: { projectIds: ["p"], models: $models }, first: 1, after: $after) { rows { windowStart } pageInfo { hasNextPage endCursor } } }`

interface Page { pageInfo: { hasNextPage: boolean; endCursor: string | null } }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app)
  const events = [0, 1, 2].map((i) => ({ id: `e${i}`, timestamp: new Date(DAY + i * 3_600_000).toISOString(), model: 'gpt-4o-mini', input_tokens: 1, output_tokens: 1 }))
  const buckets = [0, 1, 2].map((i) => ({
    start_time: (DAY / 1000) + i * 3600, end_time: (DAY / 1000) + (i + 1) * 3600, model: 'gpt-4o-mini', project_id: 'p', num_model_requests: 1, input_tokens: 1, output_tokens: 1,
  }))
  t.equal((await app.inject({ method: 'POST', url: '/v1/usage/events', headers: bearer(key), payload: { events } })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(key), payload: { buckets } })).statusCode, 200)

  const pages = async (t: Test, query: string, field: 'events' | 'usage', variables: Record<string, unknown>) => {
    let after: string | null = null
    let n = 0
    for (; n < 5; n++) {
      const res = (await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query, variables: { ...variables, after } } })).json() as {
        data: Record<string, Page> | null
        errors?: unknown
      }
      if (!t.equal(res.errors, undefined, `page ${n + 1}: ${JSON.stringify(res.errors)}`)) return n
      const page = res.data![field]!
      if (!page.pageInfo.hasNextPage) return n + 1
      after = page.pageInfo.endCursor
    }
    return n
  }

  t.test('the first page of a new events query pages on', async (t) => {
    t.equal(await pages(t, EVENTS, 'events', { period: 'ALL' }), 3)
  })
  t.test('the first page of a new usage query with a filter variable pages on', async (t) => {
    t.equal(await pages(t, USAGE, 'usage', { models: ['gpt-4o-mini'] }), 3)
  })
})
