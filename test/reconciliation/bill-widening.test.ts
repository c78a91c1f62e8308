import t from 'tap'
import { sql } from 'drizzle-orm'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'
import { bucket, D, DAY, HOUR, hourOfUsage, iso, PACIFIC, page, type BillRow } from '../factories/bills.js'

/**
 * The range is widened to the bills that cross its edges until none does (a bill crossing the widened edge
 * was left out at the start while its usage was counted, and at the end set against part of its usage),
 * and a bill widens it by at most 31 days, its longest period (a year-long bill stored before ingest
 * bounded periods widened a day's request to a year).
 */

const usage = (account: string) => (start: number) => hourOfUsage(start, account)

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app, ['ingest', 'read'])
  const h = bearer(key)
  const post = async (url: string, payload: unknown) => {
    const res = await app.inject({ method: 'POST', url, headers: h, payload: payload as Record<string, unknown> })
    t.equal(res.statusCode, 200, res.body)
  }
  const rows = async (from: number, to: number, window: string, provider = 'openai') => {
    const res = await app.inject({ url: `/v1/reconciliation?from=${iso(from)}&to=${iso(to)}&window=${window}&providers=${provider}`, headers: h })
    t.equal(res.statusCode, 200, res.body)
    return (res.json() as { data: BillRow[] }).data.map((r) => [r.window_start, r.window_end, r.computed, r.billed, r.status])
  }

  // org-a billed in Pacific days (Oct 1 and 2 in Los Angeles), org-b in UTC days (Oct 1, 2, 3).
  await post('/v1/usage/buckets', { buckets: [DAY + 10 * HOUR, DAY + 27 * HOUR, DAY + 34 * HOUR, DAY + 50 * HOUR].map(usage('org-a')) })
  await post('/v1/billing/costs?account_id=org-a', page(bucket(DAY + PACIFIC, DAY + D + PACIFIC, '0.3'), bucket(DAY + D + PACIFIC, DAY + 2 * D + PACIFIC, '0.3')))
  await post('/v1/usage/buckets', { buckets: [DAY + 2 * HOUR, DAY + D + 12 * HOUR, DAY + 2 * D + 20 * HOUR].map(usage('org-b')) })
  await post('/v1/billing/costs?account_id=org-b', page(bucket(DAY, DAY + D, '0.15'), bucket(DAY + D, DAY + 2 * D, '0.15'), bucket(DAY + 2 * D, DAY + 3 * D, '0.15')))

  // Oct 2 asked for: A's bills widen it to Oct 1 07:00Z – Oct 3 07:00Z; B's Oct 1 and Oct 3 bills cross
  // those edges and widen it again, to Oct 1 – Oct 4. Widened once, B's Oct 1 bill was left out (its usage
  // after 07:00 counted) and its Oct 3 bill set against 7 hours of its usage.
  t.same(
    await rows(DAY + D, DAY + 2 * D, 'total'),
    [[iso(DAY), iso(DAY + 3 * D), '1.05', '1.05', 'MATCH']],
    'the range runs until no bill crosses its edges',
  )

  // A year-long bill stored before ingest refused periods over 31 days (written here as it was stored).
  await app.testDb.query(sql`insert into billed_costs (tenant_id, provider, account_id, start_time, end_time, line_item, amount, currency, shape, key_hash, source)
    values (${tenantId}, 'legacy', 'org-l', ${iso(DAY + 8 * D + 12 * HOUR)}::timestamptz, ${iso(DAY + 373 * D + 12 * HOUR)}::timestamptz, 'year', 120, 'USD', 'line_item', '\\x00'::bytea, 'openai_api')`)
  t.same(
    await rows(DAY + 8 * D, DAY + 9 * D, 'day', 'legacy'),
    [[iso(DAY + 8 * D), iso(DAY + 9 * D), null, '120', 'BILLED_ONLY']],
    'a bill longer than 31 days does not widen a day’s range to its end',
  )
})
