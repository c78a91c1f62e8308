import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

/**
 * A revised cost report replaces per natural key (contract v2, "replace on repost"), never per report: an
 * item the revision no longer lists stays stored until the day is deleted (README, "Does my bill match?").
 */

const D0 = 1759795200 // 2025-10-07
const DAY = 86_400
const page = (items: [string, string][]) => ({
  object: 'page',
  data: [{ object: 'bucket', start_time: D0, end_time: D0 + DAY, results: items.map(([item, value]) => ({ object: 'organization.costs.result', amount: { value, currency: 'usd' }, line_item: item, project_id: 'p' })) }],
})

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { tenantId, key } = await tenantWithKey(app, ['ingest'])
  const post = (body: unknown) => app.inject({ method: 'POST', url: '/v1/billing/costs?account_id=org', headers: bearer(key), payload: body as object })
  const stored = async () =>
    (await app.testDb.query<{ line_item: string; amount: string }>('select line_item, amount::text as amount from billed_costs where tenant_id = $1 order by line_item', [tenantId])).map((r) => [r.line_item, r.amount])

  await t.test('a revision that drops an item replaces the items it lists and leaves the dropped one', async (t) => {
    t.same((await post(page([['gpt-4o, input', '1.5'], ['gpt-4o, output', '2']]))).json(), { received: 2, skipped: 0, created: 2, replaced: 0, unchanged: 0 })
    t.same((await post(page([['gpt-4o, input', '1.25']]))).json(), { received: 1, skipped: 0, created: 0, replaced: 1, unchanged: 0 })
    t.same(await stored(), [['gpt-4o, input', '1.25'], ['gpt-4o, output', '2']])
  })

  await t.test('deleting the day, then posting the revision, retracts the dropped item', async (t) => {
    const del = await app.inject({ method: 'DELETE', url: `/v1/billing/costs?start_time=${D0}&end_time=${D0 + DAY}&account_id=org`, headers: bearer(key) })
    t.same(del.json(), { deleted: 2 })
    t.same((await post(page([['gpt-4o, input', '1.25']]))).json(), { received: 1, skipped: 0, created: 1, replaced: 0, unchanged: 0 })
    t.same(await stored(), [['gpt-4o, input', '1.25']])
  })
})
