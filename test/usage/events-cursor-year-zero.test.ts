import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// A forged `events` cursor whose key names year 0000: JavaScript's Date takes it (1 BC), PostgreSQL's
// timestamptz does not ("date/time field value out of range"), so the key reached SQL and was a 500.

const PAGE = `query($after: String, $order: EventOrder) {
  events(from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z", orderBy: $order, first: 2, after: $after) {
    rows { id } pageInfo { hasNextPage endCursor } } }`

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BUDGET_EVALUATION_INTERVAL_MS: 'off' })
  const { key } = await tenantWithKey(app)
  const res = await app.inject({
    method: 'POST', url: '/v1/usage/events', headers: bearer(key),
    payload: { events: ['a', 'b', 'c'].map((id) => ({ id, timestamp: '2026-01-10T10:00:00Z', model: 'gpt-4o-mini', input_tokens: 10, output_tokens: 1 })) },
  })
  t.equal(res.statusCode, 200, res.body)
  for (const [order, k] of [
    ['TIME_DESC', ['0000-01-01T00:00:00.000000Z', 'x']],
    ['TIME_ASC', ['0000-06-15T12:00:00.000000Z', 'x']],
    ['COST_DESC', [false, '1', '0000-01-01T00:00:00.000000Z', 'x']],
  ] as const) {
    const first = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query: PAGE, variables: { order } } })
    const { h, a } = JSON.parse(Buffer.from((first.json() as { data: { events: { pageInfo: { endCursor: string } } } }).data.events.pageInfo.endCursor, 'base64url').toString('utf8')) as { h: string; a: number }
    const after = Buffer.from(JSON.stringify({ h, a, k: JSON.stringify(k) })).toString('base64url')
    const r = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query: PAGE, variables: { order, after } } })
    const body = r.json() as { errors?: { message: string; extensions: { code: string } }[] }
    t.equal(body.errors?.[0]?.extensions.code, 'BAD_USER_INPUT', `${order}: ${r.body.slice(0, 200)}`)
  }
})
