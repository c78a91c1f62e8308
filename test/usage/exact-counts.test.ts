import t from 'tap'
import { postBuckets } from '../factories/buckets.js'
import { bearer, build, eachEngine, isProblem, tenantWithKey } from '../helpers.js'

// Each stored counter is at most 2^53 − 1; their sums are not bounded. A result holding a count a JSON
// number cannot carry exactly is refused whole with a 422 problem before anything is sent: a REST
// mirror used to answer 200 and cut its body off mid-stream, GraphQL named the data "bad user input".

const MAX = Number.MAX_SAFE_INTEGER
const DAY = 86_400
const T0 = 1_759_795_200 // 2025-10-07
const day = { start_time: T0, end_time: T0 + DAY }
const usage = `/v1/organization/usage/completions?start_time=${T0}&end_time=${T0 + DAY}`
const GQL = `query($groupBy: [UsageDimension!]) { usage(from: "2025-10-07T00:00:00Z", to: "2025-10-08T00:00:00Z", window: DAY, groupBy: $groupBy) {
  rows { projectId inputTokens } totals { inputTokens } } }`

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)

  t.test('a sum past 2^53 − 1 is a 422 problem on REST and GraphQL; the same data grouped finer is served', async (t) => {
    const { key } = await tenantWithKey(app, ['ingest', 'read'])
    const buckets = [
      { ...day, model: 'gpt-4o', project_id: 'a', input_tokens: MAX },
      { ...day, model: 'gpt-4o', project_id: 'b', input_tokens: 1 },
    ]
    t.equal((await postBuckets(app, key, { buckets })).statusCode, 200, 'each counter is within range')
    for (const url of [usage, usage.replace('/organization/usage/completions', '/usage')]) {
      const res = await app.inject({ method: 'GET', url, headers: bearer(key) })
      t.equal(res.statusCode, 422, url)
      t.ok(isProblem(res))
      t.match(res.json(), { type: 'https://tokenledger.dev/problems/count-out-of-range', detail: /exceeds 9007199254740991/ }, 'a whole body, not one cut off')
    }
    const byProject = await app.inject({ method: 'GET', url: `${usage}&group_by=project_id`, headers: bearer(key) })
    t.equal(byProject.statusCode, 200, 'grouped by project each count is exact')
    const results = (byProject.json() as { data: { results: { project_id: string; input_tokens: number }[] }[] }).data.flatMap((b) => b.results)
    t.same(results.map((r) => [r.project_id, r.input_tokens]).sort(), [['a', MAX], ['b', 1]])

    const gql = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query: GQL, variables: { groupBy: ['PROJECT'] } } })
    const body = gql.json() as { errors?: { message: string; extensions: { code: string } }[] }
    t.equal(body.errors?.[0]?.extensions.code, 'COUNT_OUT_OF_RANGE', 'GraphQL serves the totals too: refused, with its own code')
    t.match(body.errors?.[0]?.message, /exceeds 9007199254740991.*narrow the range or group by more dimensions/)
  })

  t.test('sums past the database integer (2^63 − 1): a 422 on write, a 422 on read, not a 500', async (t) => {
    const { key } = await tenantWithKey(app, ['ingest', 'read'])
    // 1,025 × (2^53 − 1) > 2^63 − 1.
    const buckets = Array.from({ length: 1025 }, (_, i) => ({ ...day, model: 'gpt-4o', api_key_id: `k${i}`, input_tokens: MAX }))
    const first = await postBuckets(app, key, { buckets: buckets.slice(0, 1000) })
    t.equal(first.statusCode, 200, 'the first 1,000: each rollup sum is within the database integer')
    // The hourly rollup keeps one row for all API keys: 1,025 of them pass 2^63 − 1 (once a 500).
    const over = await postBuckets(app, key, { buckets })
    t.equal(over.statusCode, 422, 'a write whose sums would pass the database integer')
    t.ok(isProblem(over))
    t.match(over.json(), { type: 'https://tokenledger.dev/problems/count-out-of-range', detail: /2\^63 − 1\); nothing was written/ })
    const rest = await app.inject({ method: 'GET', url: usage, headers: bearer(key) })
    t.equal(rest.statusCode, 422, rest.body.slice(0, 200))
    t.ok(isProblem(rest))

    // Hourly buckets, one per hour: no rollup row passes 2^63 − 1, the read's sum over 43 days does.
    const hourly = await tenantWithKey(app, ['ingest', 'read'])
    const hours = Array.from({ length: 1025 }, (_, h) => ({ start_time: T0 + h * 3600, end_time: T0 + (h + 1) * 3600, model: 'gpt-4o', input_tokens: MAX }))
    t.equal((await postBuckets(app, hourly.key, { buckets: hours })).statusCode, 200)
    const total = `query { usage(from: "2025-10-07T00:00:00Z", to: "2025-11-20T00:00:00Z", window: TOTAL) { totals { inputTokens } } }`
    const gql = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(hourly.key), payload: { query: total } })
    t.match(gql.json(), { errors: [{ message: /exceeds 9007199254740991/, extensions: { code: 'COUNT_OUT_OF_RANGE' } }] }, 'the database refused the sum: the same 422')
  })

  t.test('a resource quantity of 10^30 or more is refused at ingest, naming it', async (t) => {
    const { key } = await tenantWithKey(app, ['ingest', 'read'])
    const at = { start_time: '2025-10-07T00:00:00Z', end_time: '2025-10-08T00:00:00Z', model: 'dall-e-2', resource: 'images' }
    // Past 100 characters the text itself is refused first (MAX_DECIMAL_TEXT); either way nothing is stored.
    for (const [quantity, message] of [
      [`1${'0'.repeat(400)}`, /must be at most 100 characters \(got 401\)/],
      [`1${'0'.repeat(30)}`, /must be below 10\^30/],
      [`1${'0'.repeat(30)}.${'0'.repeat(60)}`, /must be below 10\^30/],
    ] as const) {
      const res = await postBuckets(app, key, { resources: [{ ...at, quantity }] })
      t.equal(res.statusCode, 400, `${quantity.length} characters`)
      t.match(res.json().errors, [{ index: 0, path: 'resources.quantity', message }])
    }
    // A JSON number is held to the same length as the text it stands for (5e-324 is 326 characters).
    const tiny = await postBuckets(app, key, { resources: [{ ...at, quantity: 5e-324 }] })
    t.equal(tiny.statusCode, 400, 'a JSON number of 326 characters written out')
    t.match(tiny.json().errors, [{ index: 0, path: 'resources.quantity', message: /must be at most 100 characters written as a plain decimal \(got 326\)/ }])
    t.equal((await postBuckets(app, key, { resources: [{ ...at, quantity: 1e-90 }] })).statusCode, 200, '1e-90 (92 characters) is stored')
    const ok = await postBuckets(app, key, { resources: [{ ...at, quantity: `${'9'.repeat(30)}.5` }] })
    t.equal(ok.statusCode, 200, 'just below the bound is stored')
    const mirror = await app.inject({ method: 'GET', url: usage.replace('completions', 'images'), headers: bearer(key) })
    t.equal(mirror.statusCode, 200)
    t.match(mirror.json(), { data: [{ results: [{ images: Number(`${'9'.repeat(30)}.5`) }] }] }, 'and read back whole')
  })
})
