import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

/**
 * Billed costs are whole UTC days placed by their start, so a reconciliation range that starts or ends
 * mid-day is widened to the days it touches: neither side is cut, and a bill that matches its usage
 * matches whatever hour the range names.
 */

const DAY = 1759276800 // 2025-10-01T00:00:00Z
const HOUR = 3600
// gpt-4o-mini at list price: 1M input tokens = $0.15; billed for the day: two buckets, $0.30.
const usage = (start: number) => ({ start_time: start, end_time: start + HOUR, model: 'gpt-4o-mini', input_tokens: 1_000_000, output_tokens: 0, num_model_requests: 1 })
const bill = {
  object: 'page',
  data: [{ object: 'bucket', start_time: DAY, end_time: DAY + 24 * HOUR, results: [{ object: 'organization.costs.result', amount: { value: 0.3, currency: 'usd' }, line_item: 'gpt-4o-mini, input', project_id: null }] }],
  has_more: false,
  next_page: null,
}
const iso = (s: number) => new Date(s * 1000).toISOString()

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const h = bearer(key)
  t.equal((await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: h, payload: { buckets: [usage(DAY + 8 * HOUR), usage(DAY + 20 * HOUR)] } })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/v1/billing/costs', headers: h, payload: bill })).statusCode, 200)

  const ranges: [string, number, number][] = [
    ['whole day', DAY, DAY + 24 * HOUR],
    ['from mid-day (after the first bucket)', DAY + 12 * HOUR, DAY + 24 * HOUR],
    ['to mid-day (before the second bucket)', DAY, DAY + 12 * HOUR],
    ['both mid-day, inside one day', DAY + 9 * HOUR, DAY + 10 * HOUR],
  ]
  for (const window of ['day', 'total']) {
    for (const [what, from, to] of ranges) {
      const res = await app.inject({ url: `/v1/reconciliation?from=${iso(from)}&to=${iso(to)}&window=${window}`, headers: h })
      t.equal(res.statusCode, 200, `${window}, ${what}: 200`)
      const body = res.json() as { data: { window_start: string; window_end: string; computed: string; billed: string; status: string }[] }
      t.same(
        body.data.map((r) => [r.window_start, r.window_end, r.computed, r.billed, r.status]),
        [[iso(DAY), iso(DAY + 24 * HOUR), '0.3', '0.3', 'MATCH']],
        `${window}, ${what}: the whole day on both sides`,
      )
    }
  }

  const gql = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: h,
    payload: { query: `{ reconciliation(from: "${iso(DAY + 12 * HOUR)}", to: "${iso(DAY + 13 * HOUR)}") { rows { windowStart computed billed status } } }` },
  })
  const data = gql.json() as { errors?: unknown; data: { reconciliation: { rows: unknown[] } } }
  t.equal(data.errors, undefined)
  t.same(data.data.reconciliation.rows, [{ windowStart: iso(DAY), computed: '0.3', billed: '0.3', status: 'MATCH' }], 'GraphQL: the same')
})
