import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

/**
 * A bill whose period is not a UTC day (a day in another zone, or a span from a non-midnight instant) is
 * never split between the UTC days it touches: the windows it crosses are joined into one row window and
 * both sides are summed over it. Placed whole on the day it starts, a Pacific day's bill was a MISMATCH on
 * that day (a part of its usage fell on the next) and the next day's was another.
 */

const DAY = 1759276800 // 2025-10-01T00:00:00Z, a Wednesday
const HOUR = 3600
const PACIFIC = 7 * HOUR // midnight in Los Angeles (PDT) is 07:00Z
// gpt-4o-mini at list price: 1M input tokens = $0.15 per hourly bucket.
const usage = (start: number) => ({ start_time: start, end_time: start + HOUR, model: 'gpt-4o-mini', input_tokens: 1_000_000, output_tokens: 0, num_model_requests: 1 })
const bucket = (start: number, end: number, value: string) => ({
  object: 'bucket',
  start_time: start,
  end_time: end,
  results: [{ object: 'organization.costs.result', amount: { value, currency: 'usd' }, line_item: 'gpt-4o-mini, input', project_id: null }],
})
const page = (...data: ReturnType<typeof bucket>[]) => ({ object: 'page', data, has_more: false, next_page: null })
const iso = (s: number) => new Date(s * 1000).toISOString()

interface Row {
  window_start: string
  window_end: string
  computed: string | null
  billed: string | null
  status: string
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const h = bearer(key)
  const rows = async (from: number, to: number, window = 'day') => {
    const res = await app.inject({ url: `/v1/reconciliation?from=${iso(from)}&to=${iso(to)}&window=${window}`, headers: h })
    t.equal(res.statusCode, 200, res.body)
    return (res.json() as { data: Row[] }).data.map((r) => [r.window_start, r.window_end, r.computed, r.billed, r.status])
  }

  // Two Pacific days, billed as such: Oct 1 PDT (07:00Z Oct 1 – 07:00Z Oct 2) holds three buckets, one of
  // them after UTC midnight; Oct 2 PDT holds one.
  const pacific = [DAY + 10 * HOUR, DAY + 23 * HOUR, DAY + 27 * HOUR, DAY + 34 * HOUR]
  t.equal((await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: h, payload: { buckets: pacific.map(usage) } })).statusCode, 200)
  const billed = await app.inject({
    method: 'POST',
    url: '/v1/billing/costs',
    headers: h,
    payload: page(bucket(DAY + PACIFIC, DAY + 24 * HOUR + PACIFIC, '0.45'), bucket(DAY + 24 * HOUR + PACIFIC, DAY + 48 * HOUR + PACIFIC, '0.15')),
  })
  t.equal(billed.statusCode, 200, billed.body)

  const joined = [[iso(DAY), iso(DAY + 48 * HOUR + PACIFIC), '0.6', '0.6', 'MATCH']]
  t.same(await rows(DAY, DAY + 48 * HOUR), joined, 'the UTC days the Pacific bills cross are one window; each bill whole on both sides')
  t.same(await rows(DAY, DAY + 48 * HOUR, 'total'), joined, 'TOTAL: the range runs to the last bill’s end')
  t.same(
    await rows(DAY + 24 * HOUR, DAY + 48 * HOUR),
    [[iso(DAY + PACIFIC), iso(DAY + 48 * HOUR + PACIFIC), '0.6', '0.6', 'MATCH']],
    'a range starting inside a bill reads that bill whole, and its usage from the bill’s start',
  )

  // An 8-hour bill from 20:00Z Oct 5 joins Oct 5 and Oct 6 only; Oct 7's UTC-day bill stays its own row.
  const later = DAY + 4 * 24 * HOUR
  await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: h, payload: { buckets: [usage(later + 21 * HOUR), usage(later + 26 * HOUR), usage(later + 50 * HOUR)] } })
  const more = await app.inject({
    method: 'POST',
    url: '/v1/billing/costs',
    headers: h,
    payload: page(bucket(later + 20 * HOUR, later + 28 * HOUR, '0.3'), bucket(later + 48 * HOUR, later + 72 * HOUR, '0.15')),
  })
  t.equal(more.statusCode, 200, more.body)
  t.same(
    await rows(later, later + 72 * HOUR),
    [
      [iso(later), iso(later + 48 * HOUR), '0.3', '0.3', 'MATCH'],
      [iso(later + 48 * HOUR), iso(later + 72 * HOUR), '0.15', '0.15', 'MATCH'],
    ],
    'only the days a bill crosses are joined',
  )

  const gql = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: h,
    payload: { query: `{ reconciliation(from: "${iso(DAY)}", to: "${iso(DAY + 48 * HOUR)}") { rows { windowStart windowEnd computed billed status } totals { difference } } }` },
  })
  const data = gql.json() as { errors?: unknown; data: { reconciliation: { rows: unknown[]; totals: { difference: string } } } }
  t.equal(data.errors, undefined)
  t.same(data.data.reconciliation.rows, [{ windowStart: iso(DAY), windowEnd: iso(DAY + 48 * HOUR + PACIFIC), computed: '0.6', billed: '0.6', status: 'MATCH' }], 'GraphQL: the same')
  t.equal(data.data.reconciliation.totals.difference, '0')
})
