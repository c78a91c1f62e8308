import { readFileSync } from 'node:fs'
import t from 'tap'
import { bearer, build, eachEngine, fixturePath, tenantWithKey } from '../helpers.js'

/** GET /v1/organization/costs?cost_source=billed answers the provider's billed costs in OpenAI's costs page shape. */

const D0 = 1759622400 // 2025-10-05

void eachEngine(t, async (t, engine) => {
  const path = fixturePath(t, 'openai/openai_costs_export_2025-10.sample.csv')
  if (!path) return
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const posted = await app.inject({ method: 'POST', url: '/v1/billing/costs', headers: { ...bearer(key), 'content-type': 'text/csv' }, payload: readFileSync(path, 'utf8') })
  t.equal(posted.statusCode, 200, posted.body)
  const itemised = await app.inject({
    method: 'POST',
    url: '/v1/billing/costs?account_id=org-2',
    headers: bearer(key),
    payload: {
      data: [
        {
          start_time: D0 + 86_400 * 20,
          end_time: D0 + 86_400 * 21,
          results: [
            { amount: { value: 0.020248, currency: 'usd' }, line_item: 'gpt-5-mini-2025-08-07, input', project_id: 'proj_1', quantity: 80992, quantity_unit: 'tokens' },
            { amount: { value: '0.54954', currency: 'usd' }, line_item: 'gpt-5-mini-2025-08-07, output', project_id: 'proj_1', quantity: 274770, quantity_unit: 'tokens' },
          ],
        },
      ],
    },
  })
  t.equal(itemised.statusCode, 200, itemised.body)

  const get = (query: string, headers: Record<string, string> = {}) =>
    app.inject({ method: 'GET', url: `/v1/organization/costs?${query}`, headers: { ...bearer(key), ...headers } })

  const week = await get(`start_time=${D0}&end_time=${D0 + 7 * 86_400}&cost_source=billed`)
  t.equal(week.statusCode, 200, week.body)
  const page = week.json() as { data: { start_time: number; results: { amount: { value: number; value_exact: string }; line_item: string | null }[] }[]; has_more: boolean }
  t.same(
    page.data.map((b) => b.results.map((r) => r.amount.value_exact)),
    [['0.895874'], ['0.56177125'], ['0.569788'], ['0.5455665'], [], ['0.3409'], ['0.072054']],
  )
  t.equal(page.data[0]!.results[0]!.amount.value, 0.895874)
  t.equal(page.has_more, false)

  const computed = await get(`start_time=${D0}&end_time=${D0 + 7 * 86_400}`)
  t.ok((computed.json() as { data: { results: unknown[] }[] }).data.every((b) => b.results.length === 0), 'billed costs are never counted as computed cost')

  const items = await get(`start_time=${D0 + 86_400 * 20}&end_time=${D0 + 86_400 * 21}&cost_source=billed&group_by=line_item,project_id`)
  t.match(items.json(), {
    data: [
      {
        results: [
          { line_item: 'gpt-5-mini-2025-08-07, input', project_id: 'proj_1', amount: { value_exact: '0.020248' }, quantity: 80992, quantity_exact: '80992', quantity_unit: 'tokens' },
          { line_item: 'gpt-5-mini-2025-08-07, output', project_id: 'proj_1', amount: { value_exact: '0.54954' }, quantity: 274770 },
        ],
      },
    ],
  })
  // Summed without line items: a quantity (and its unit) only when every part has one in one unit. The
  // sample export's rows have none: the unit stayed "tokens" beside a null quantity.
  const both = await app.inject({
    method: 'POST',
    url: '/v1/billing/costs?account_id=org-3',
    headers: bearer(key),
    payload: { data: [{ start_time: D0 + 86_400 * 30, end_time: D0 + 86_400 * 31, results: [
      { amount: { value: 0.5, currency: 'usd' }, line_item: 'gpt-5, input', quantity: 10, quantity_unit: 'tokens' },
      { amount: { value: 0.25, currency: 'usd' }, line_item: 'gpt-5, output' },
      { amount: { value: 0.125, currency: 'usd' }, line_item: 'gpt-5, cached input', quantity: 3 },
    ] }] },
  })
  t.equal(both.statusCode, 200, both.body)
  const summed = await get(`start_time=${D0 + 86_400 * 30}&end_time=${D0 + 86_400 * 31}&cost_source=billed`)
  t.match(summed.json().data[0].results, [{ amount: { value_exact: '0.875' }, quantity: null, quantity_exact: null, quantity_unit: null }])
  const each = await get(`start_time=${D0 + 86_400 * 30}&end_time=${D0 + 86_400 * 31}&cost_source=billed&group_by=line_item`)
  t.same(
    (each.json().data[0].results as { line_item: string; quantity: number | null; quantity_unit: string | null }[]).map((r) => [r.line_item, r.quantity, r.quantity_unit]),
    [['gpt-5, cached input', null, null], ['gpt-5, input', 10, 'tokens'], ['gpt-5, output', null, null]],
  )
  const csv = await get(`start_time=${D0}&end_time=${D0 + 3 * 86_400}&cost_source=billed`, { accept: 'text/csv' })
  t.equal(csv.statusCode, 200)
  const lines = csv.body.trim().split('\n')
  t.equal(lines.length, 4)
  t.match(lines[1], /^1759622400,1759708800,2025-10-05T00:00:00\+00:00,2025-10-06T00:00:00\+00:00,0\.895874,usd,/)
  const bad = await get(`start_time=${D0}&cost_source=invoice`)
  t.equal(bad.statusCode, 400)
})
