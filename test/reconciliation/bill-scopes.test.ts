import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'
import { bucket, D, DAY, HOUR, hourOfUsage, iso, PACIFIC, page, type BillRow } from '../factories/bills.js'

/**
 * Bills whose periods are not the query's windows, across provider accounts on different grids: org-a is
 * billed in Pacific days (07:00Z to 07:00Z), org-b in UTC days. The range is widened until no bill crosses
 * its edges (a bill crossing the widened edge widened nothing and was left out or cut), and windows are
 * joined per account (one account's Pacific days merged every other account's UTC days into its rows).
 */

const usage = (account: string) => (start: number) => hourOfUsage(start, account)

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const h = bearer(key)
  const post = async (url: string, payload: unknown) => {
    const res = await app.inject({ method: 'POST', url, headers: h, payload: payload as Record<string, unknown> })
    t.equal(res.statusCode, 200, res.body)
  }
  const rows = async (from: number, to: number, groupBy = 'provider') => {
    const res = await app.inject({ url: `/v1/reconciliation?from=${iso(from)}&to=${iso(to)}&window=day&group_by=${groupBy}`, headers: h })
    t.equal(res.statusCode, 200, res.body)
    return (res.json() as { data: BillRow[] }).data.map((r) => [r.window_start, r.window_end, ...(groupBy.includes('account') ? [r.account_id] : []), r.computed, r.billed, r.status])
  }

  // org-a: Oct 1 and Oct 2 in Los Angeles, two hours of usage in each.
  await post('/v1/usage/buckets', { buckets: [DAY + 10 * HOUR, DAY + 27 * HOUR, DAY + 34 * HOUR, DAY + 50 * HOUR].map(usage('org-a')) })
  await post('/v1/billing/costs?account_id=org-a', page(bucket(DAY + PACIFIC, DAY + D + PACIFIC, '0.3'), bucket(DAY + D + PACIFIC, DAY + 2 * D + PACIFIC, '0.3')))
  // org-b: UTC days Oct 1, 2 and 3, one hour each, at the hours A's bills end.
  await post('/v1/usage/buckets', { buckets: [DAY + 2 * HOUR, DAY + D + 12 * HOUR, DAY + 2 * D + 20 * HOUR].map(usage('org-b')) })
  await post('/v1/billing/costs?account_id=org-b', page(bucket(DAY, DAY + D, '0.15'), bucket(DAY + D, DAY + 2 * D, '0.15'), bucket(DAY + 2 * D, DAY + 3 * D, '0.15')))

  // Asked for Oct 2 only: A's bills cross both edges (Oct 1 07:00Z, Oct 3 07:00Z), and B's Oct 1 and Oct 3
  // bills cross those new edges — the range is Oct 1 to Oct 4. B keeps its UTC days; A is one row.
  t.same(
    await rows(DAY + D, DAY + 2 * D, 'provider,account'),
    [
      [iso(DAY), iso(DAY + D), 'org-b', '0.15', '0.15', 'MATCH'],
      [iso(DAY), iso(DAY + 3 * D), 'org-a', '0.6', '0.6', 'MATCH'],
      [iso(DAY + D), iso(DAY + 2 * D), 'org-b', '0.15', '0.15', 'MATCH'],
      [iso(DAY + 2 * D), iso(DAY + 3 * D), 'org-b', '0.15', '0.15', 'MATCH'],
    ],
    'each account whole, in its own windows: no bill left out or cut at the widened edges',
  )
  t.same(
    await rows(DAY + D, DAY + 2 * D),
    [
      [iso(DAY), iso(DAY + D), '0.15', '0.15', 'MATCH'],
      [iso(DAY), iso(DAY + 3 * D), '0.6', '0.6', 'MATCH'],
      [iso(DAY + D), iso(DAY + 2 * D), '0.15', '0.15', 'MATCH'],
      [iso(DAY + 2 * D), iso(DAY + 3 * D), '0.15', '0.15', 'MATCH'],
    ],
    'by provider: the accounts’ windows stay apart (rows of one start are told apart by their end)',
  )

  // Paged one row at a time, the same rows (the cursor's key holds the window's end).
  const seen: unknown[] = []
  let after: string | null = null
  do {
    const res = await app.inject({ url: `/v1/reconciliation?from=${iso(DAY + D)}&to=${iso(DAY + 2 * D)}&window=day&first=1${after ? `&after=${after}` : ''}`, headers: h })
    t.equal(res.statusCode, 200, res.body)
    const body = res.json() as { data: BillRow[]; next_page: string | null }
    seen.push(...body.data.map((r) => [r.window_start, r.window_end, r.billed]))
    after = body.next_page
  } while (after && seen.length < 10)
  t.same(seen, [
    [iso(DAY), iso(DAY + D), '0.15'],
    [iso(DAY), iso(DAY + 3 * D), '0.6'],
    [iso(DAY + D), iso(DAY + 2 * D), '0.15'],
    [iso(DAY + 2 * D), iso(DAY + 3 * D), '0.15'],
  ])

  // Bills posted without an account beside usage that names one: the accounts cannot be told apart, so the
  // provider is one scope and its usage takes the bills' joined window.
  const other = bearer((await tenantWithKey(app, ['ingest', 'read'])).key)
  t.equal((await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: other, payload: { buckets: [DAY + 10 * HOUR, DAY + 27 * HOUR].map(usage('org-c')) } })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/v1/billing/costs', headers: other, payload: page(bucket(DAY + PACIFIC, DAY + D + PACIFIC, '0.3')) })).statusCode, 200)
  const res = await app.inject({ url: `/v1/reconciliation?from=${iso(DAY)}&to=${iso(DAY + D)}&window=day`, headers: other })
  t.same(
    (res.json() as { data: BillRow[] }).data.map((r) => [r.window_start, r.window_end, r.computed, r.billed, r.status]),
    [[iso(DAY), iso(DAY + D + PACIFIC), '0.3', '0.3', 'MATCH']],
    'a bill without an account joins the windows of every account of its provider',
  )
})
