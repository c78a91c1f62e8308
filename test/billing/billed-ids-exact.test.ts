import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

/**
 * Ids with spaces are ids as sent, in every cost format and on the way back out: " p1", "p1", "p1 " and a
 * tab are four projects in a costs page and in a cost CSV alike (never trimmed into one), and the billed
 * costs mirror's bracketed filter (the official SDK's `project_ids[]=`) asks for exactly the id sent.
 */

const D0 = 1759795200 // 2025-10-07
const DAY = 86_400
const IDS = [' p1', 'p1', 'p1 ', '\t']
const csvCell = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s)

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { tenantId, key } = await tenantWithKey(app, ['ingest', 'read'])
  const post = (payload: string, type: string) =>
    app.inject({ method: 'POST', url: '/v1/billing/costs', headers: { ...bearer(key), 'content-type': type }, payload })
  const stored = async () =>
    (await app.testDb.query<{ project_id: string; account_id: string; amount: string }>(
      'select project_id, account_id, amount::text as amount from billed_costs where tenant_id = $1 order by amount',
      [tenantId],
    )).map((r) => [r.account_id, r.project_id, r.amount])
  const clear = () => app.testDb.query('delete from billed_costs where tenant_id = $1', [tenantId])
  const expected = IDS.map((id, i) => [' org ', id, String(i + 1)])

  await t.test('a costs page and a cost CSV store the same four projects, spaces and all', async (t) => {
    const results = IDS.map((id, i) => ({ object: 'organization.costs.result', amount: { value: String(i + 1), currency: 'usd' }, line_item: 'x', project_id: id }))
    const page = { object: 'page', data: [{ object: 'bucket', start_time: D0, end_time: D0 + DAY, results }] }
    const json = await app.inject({ method: 'POST', url: `/v1/billing/costs?account_id=${encodeURIComponent(' org ')}`, headers: bearer(key), payload: page })
    t.same(json.json(), { received: 4, skipped: 0, created: 4, replaced: 0, unchanged: 0 })
    t.same(await stored(), expected)
    await clear()
    const lines = IDS.map((id, i) => `${D0},${D0 + DAY},${i + 1},usd,x,${csvCell(id)}, org `)
    const csv = await post(`start_time,end_time,amount_value,amount_currency,line_item,project_id,organization_id\n${lines.join('\n')}\n`, 'text/csv')
    t.same(csv.json(), { received: 4, skipped: 0, created: 4, replaced: 0, unchanged: 0 })
    t.same(await stored(), expected)
  })

  await t.test('the billed costs mirror answers a bracketed project id exactly as sent, never trimmed or dropped', async (t) => {
    const range = `cost_source=billed&start_time=${D0}&end_time=${D0 + DAY}&group_by=project_id`
    for (const [i, id] of IDS.entries()) {
      const res = await app.inject({ method: 'GET', url: `/v1/organization/costs?${range}&project_ids[]=${encodeURIComponent(id)}`, headers: bearer(key) })
      t.equal(res.statusCode, 200, res.body)
      const results = (res.json() as { data: { results: { project_id: string; amount: { value_exact: string } }[] }[] }).data.flatMap((b) => b.results)
      t.same(results.map((r) => [r.project_id, r.amount.value_exact]), [[id, String(i + 1)]], JSON.stringify(id))
    }
    const blank = await app.inject({ method: 'GET', url: `/v1/organization/costs?${range}&project_ids[]=`, headers: bearer(key) })
    t.equal(blank.statusCode, 400, 'an empty bracketed id is refused, not dropped with the filter')
  })

  await t.test('the cost CSV export posted back stores the same four projects', async (t) => {
    const exp = await app.inject({
      method: 'GET',
      url: `/v1/organization/costs?cost_source=billed&start_time=${D0}&end_time=${D0 + DAY}&group_by=project_id,line_item`,
      headers: { ...bearer(key), accept: 'text/csv' },
    })
    t.equal(exp.statusCode, 200)
    await clear()
    t.same((await post(exp.body, 'text/csv')).json(), { received: 4, skipped: 0, created: 4, replaced: 0, unchanged: 0 })
    t.same(await stored(), expected)
    await clear()
  })
})
