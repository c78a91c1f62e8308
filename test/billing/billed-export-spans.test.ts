import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// The billed cost export (GET /v1/organization/costs?cost_source=billed, Accept: text/csv) writes each cost
// with its own start and end. It wrote the daily bucket holding the cost's start instead, so a cost longer
// than a day (a week's bill, a report shape the ingest accepts) came back as a one-day cost: posted back to
// its own tenant a 409 beside the stored week, posted to another a day's cost where a week was billed.

const DAY = 86_400
const MON = Date.parse('2025-09-29T00:00:00Z') / 1000
const result = (value: string, lineItem: string) => ({ object: 'organization.costs.result', amount: { value, currency: 'usd' }, line_item: lineItem, project_id: 'proj_1' })
const page = (start: number, end: number, value: string, lineItem: string) => ({ object: 'page', data: [{ object: 'bucket', start_time: start, end_time: end, results: [result(value, lineItem)] }] })

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const first = await tenantWithKey(app, ['ingest', 'read'])
  const second = await tenantWithKey(app, ['ingest', 'read'])
  const post = async (key: string, url: string, payload: string | object, type = 'application/json') => {
    const res = await app.inject({ method: 'POST', url, headers: { ...bearer(key), 'content-type': type }, payload })
    t.equal(res.statusCode, 200, res.body)
    return res.json() as Record<string, number>
  }
  // A week's bill in one account, a day's in another.
  await post(first.key, '/v1/billing/costs?account_id=org-week', page(MON, MON + 7 * DAY, '7.5', 'gpt-5, input'))
  await post(first.key, '/v1/billing/costs?account_id=org-day', page(MON + DAY, MON + 2 * DAY, '1.25', 'gpt-5, output'))
  // An instant to the millisecond: the unix columns take whole seconds, so it goes in the ISO columns.
  const odd = { object: 'page', data: [{ object: 'bucket', start_time: '2025-10-01T10:00:00.250Z', end_time: '2025-10-01T11:00:00Z', results: [result('0.5', 'gpt-5, input')] }] }
  await post(first.key, '/v1/billing/costs?account_id=org-ms', odd)

  const exported = await app.inject({
    method: 'GET',
    url: `/v1/organization/costs?start_time=${MON}&end_time=${MON + 8 * DAY}&cost_source=billed&group_by=line_item,project_id,api_key_id`,
    headers: { ...bearer(first.key), accept: 'text/csv' },
  })
  t.equal(exported.statusCode, 200)
  const lines = exported.body.trim().split('\n').slice(1)
  t.same(
    lines.map((l) => l.split(',').slice(0, 4)),
    [
      [String(MON), String(MON + 7 * DAY), '2025-09-29T00:00:00+00:00', '2025-10-06T00:00:00+00:00'],
      [String(MON + DAY), String(MON + 2 * DAY), '2025-09-30T00:00:00+00:00', '2025-10-01T00:00:00+00:00'],
      ['', '', '2025-10-01T10:00:00.250Z', '2025-10-01T11:00:00.000Z'],
    ],
    'each cost with its own start and end',
  )

  t.same(await post(first.key, '/v1/billing/costs', exported.body, 'text/csv'), { received: 3, skipped: 0, created: 0, replaced: 0, unchanged: 3 }, 'posted back: unchanged')
  t.same(await post(second.key, '/v1/billing/costs', exported.body, 'text/csv'), { received: 3, skipped: 0, created: 3, replaced: 0, unchanged: 0 })
  const spans = (tenantId: string) =>
    app.testDb.query<{ account_id: string; start_time: Date; end_time: Date; amount: string }>(
      'select account_id, start_time, end_time, amount::text as amount from billed_costs where tenant_id = $1 order by account_id',
      [tenantId],
    )
  t.same(
    (await spans(second.tenantId)).map((r) => [r.account_id, new Date(r.start_time).toISOString(), new Date(r.end_time).toISOString(), r.amount]),
    (await spans(first.tenantId)).map((r) => [r.account_id, new Date(r.start_time).toISOString(), new Date(r.end_time).toISOString(), r.amount]),
    'another tenant stores the same costs',
  )
})
