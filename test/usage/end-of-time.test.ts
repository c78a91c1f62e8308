import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// Instants end at 9999-12-31T23:59:59.999Z, but the local day, week or month that holds the last of them
// ends in year 10000, which neither RFC 3339 nor JavaScript's Date parser can read: such a window (a
// usage row, a reconciliation row, a budget's period) was an internal error. It now ends at the last
// instant, which no range reaches past.

const END = '9999-12-31T23:59:59.999Z'

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app)
  const post = (url: string, payload: unknown, method: 'POST' | 'PUT' = 'POST') => app.inject({ method, url, headers: bearer(key), payload: payload as object })
  const bucket = { start_time: '9999-12-31T22:00:00Z', end_time: '9999-12-31T23:00:00Z', model: 'gpt-4o-2024-08-06', num_model_requests: 1, input_tokens: 1000, output_tokens: 0 }
  t.equal((await post('/v1/usage/buckets', { buckets: [bucket] })).statusCode, 200)
  const graphql = async (query: string) => {
    const res = await post('/graphql', { query })
    t.equal(res.statusCode, 200, res.body)
    const body = res.json<{ data: Record<string, unknown>; errors?: unknown }>()
    t.equal(body.errors, undefined, res.body)
    return body.data
  }

  t.test('the last usage windows of 9999 end at the last instant', async (t) => {
    for (const [window, timeZone, start] of [
      ['DAY', 'UTC', '9999-12-31T00:00:00.000Z'],
      ['WEEK', 'UTC', '9999-12-27T00:00:00.000Z'],
      ['MONTH', 'UTC', '9999-12-01T00:00:00.000Z'],
      ['DAY', 'Pacific/Kiritimati', '9999-12-31T10:00:00.000Z'],
      ['HOUR', 'Asia/Kathmandu', '9999-12-31T21:15:00.000Z'],
    ] as const) {
      const data = await graphql(`{ usage(from: "9999-12-01T00:00:00Z", to: "${END}", window: ${window}, timeZone: "${timeZone}") {
        rows { windowStart windowEnd inputTokens } } }`)
      const end = window === 'HOUR' ? '9999-12-31T22:15:00.000Z' : END
      t.same(data.usage, { rows: [{ windowStart: start, windowEnd: end, inputTokens: 1000 }] }, `${window} in ${timeZone}`)
    }
  })

  t.test('a reconciliation day of 31 December 9999 ends at the last instant', async (t) => {
    const data = await graphql(`{ reconciliation(from: "9999-12-31T00:00:00Z", to: "${END}") { rows { windowStart windowEnd status } } }`)
    t.same(data.reconciliation, { rows: [{ windowStart: '9999-12-31T00:00:00.000Z', windowEnd: END, status: 'COMPUTED_ONLY' }] })
    const rest = await app.inject({ url: `/v1/reconciliation?from=9999-12-31T00:00:00Z&to=${END}`, headers: bearer(key) })
    t.equal(rest.statusCode, 200, rest.body)
  })

  t.test('a budget period that holds the last instant ends there', async (t) => {
    t.equal((await post('/v1/budgets/daily', { amount: '1', period: 'day' }, 'PUT')).statusCode, 201)
    t.equal((await post('/v1/budgets/monthly', { amount: '1', period: 'month', time_zone: 'Asia/Kathmandu' }, 'PUT')).statusCode, 201)
    const data = await graphql('{ budgets(at: "9999-12-31T22:30:00Z") { name spent periodStart periodEnd } }')
    t.same(data.budgets, [
      { name: 'daily', spent: '0.0025', periodStart: '9999-12-31T00:00:00.000Z', periodEnd: END },
      { name: 'monthly', spent: '0.0025', periodStart: '9999-12-31T18:15:00.000Z', periodEnd: END },
    ])
    const rest = await app.inject({ url: '/v1/budgets/daily?at=9999-12-31T22:30:00Z', headers: bearer(key) })
    t.equal(rest.statusCode, 200, rest.body)
    t.equal(rest.json<{ period_end: string }>().period_end, END)
  })
})
