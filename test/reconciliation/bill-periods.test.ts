import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'
import { bucket, DAY, HOUR, hourOfUsage, iso, PACIFIC, page, type BillRow } from '../factories/bills.js'

/**
 * A bill whose period is not a UTC day (a day in another zone, or a span from a non-midnight instant) is
 * never split between the UTC days it touches: the windows it crosses are joined into one row window and
 * both sides are summed over it. Placed whole on the day it starts, a Pacific day's bill was a MISMATCH on
 * that day (a part of its usage fell on the next) and the next day's was another.
 */

const usage = (start: number) => hourOfUsage(start)

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const h = bearer(key)
  const rows = async (from: number, to: number, window = 'day') => {
    const res = await app.inject({ url: `/v1/reconciliation?from=${iso(from)}&to=${iso(to)}&window=${window}`, headers: h })
    t.equal(res.statusCode, 200, res.body)
    return (res.json() as { data: BillRow[] }).data.map((r) => [r.window_start, r.window_end, r.computed, r.billed, r.status])
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
