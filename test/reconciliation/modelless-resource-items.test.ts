import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

/**
 * A resource reported without a model (file searches, vector storage, code interpreter sessions: OpenAI
 * reports them by project only) has the line item `"<resource>"` — the resource alone, as the costs mirror
 * names it (contract v2 "REST mirrors, extended"). A billed row with that line item is the same item as
 * the computed one: reconciliation by LINE_ITEM compares them on one row, never lists the billed side as
 * an unmapped BILLED_ONLY item beside a COMPUTED_ONLY row of the same text.
 */

const DAY = 1_754_006_400 // 2025-08-01T00:00:00Z
const iso = (s: number) => new Date(s * 1000).toISOString()
const day = { start_time: DAY, end_time: DAY + 86_400, model: null }
const RESOURCES = [
  { ...day, resource: 'file_search_calls', quantity: '1000' }, // $2.50 per 1,000 on the default card's `*` rate
  { ...day, resource: 'storage_bytes', quantity: String(10 * 2 ** 30) }, // 10 GiB for a day at $0.10 per GiB-day
  { ...day, resource: 'code_interpreter_sessions', quantity: '4' }, // $0.03 each
  { ...day, resource: 'images', quantity: '2', model: 'dall-e-2', attributes: { size: '1024x1024' } }, // "<model>, images"
]
const QUERY = `{ reconciliation(from: "${iso(DAY)}", to: "${iso(DAY + 86_400)}", groupBy: [LINE_ITEM]) {
  rows { model lineItem computed billed difference status billedUnitPrice cardUnitPrice } } }`

interface Row { model: string | null; lineItem: string; computed: string | null; billed: string | null; difference: string | null; status: string; billedUnitPrice: string | null; cardUnitPrice: string | null }
type Result = { line_item: string; amount: { value: number; value_exact: string }; quantity: number; quantity_unit: string }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const h = bearer(key)
  const posted = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: h, payload: { resources: RESOURCES } })
  t.equal(posted.statusCode, 200, posted.body)

  // What the ledger itself says was spent, per line item: the billed page posted back.
  const mirror = await app.inject({ method: 'GET', url: `/v1/organization/costs?start_time=${DAY}&end_time=${DAY + 86_400}&group_by=line_item`, headers: h })
  t.equal(mirror.statusCode, 200, mirror.body)
  const results = (mirror.json() as { data: { results: Result[] }[] }).data[0]!.results
  t.same(results.map((r) => r.line_item).sort(), ['code_interpreter_sessions', 'dall-e-2, images', 'file_search_calls', 'storage_bytes'])
  const billed = (overrides: Record<string, string>) => ({
    object: 'page',
    data: [{
      object: 'bucket', start_time: DAY, end_time: DAY + 86_400,
      results: results.map((r) => ({
        object: 'organization.costs.result', line_item: r.line_item, project_id: null, quantity: r.quantity, quantity_unit: r.quantity_unit,
        amount: { value: overrides[r.line_item] ?? r.amount.value_exact, currency: 'usd' },
      })),
    }],
  })
  const reconcile = async (): Promise<Row[]> => {
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: h, payload: { query: QUERY } })
    const body = res.json() as { data: { reconciliation: { rows: Row[] } }; errors?: unknown }
    t.equal(body.errors, undefined, JSON.stringify(body.errors))
    return body.data.reconciliation.rows
  }

  let stored = await app.inject({ method: 'POST', url: '/v1/billing/costs?account_id=org_1', headers: h, payload: billed({}) })
  t.equal(stored.statusCode, 200, stored.body)
  let rows = await reconcile()
  t.same(
    rows.map((r) => [r.lineItem, r.status, r.computed, r.billed]),
    [
      ['dall-e-2, images', 'MATCH', '0.04', '0.04'],
      ['code_interpreter_sessions', 'MATCH', '0.12', '0.12'],
      ['file_search_calls', 'MATCH', '2.5', '2.5'],
      ['storage_bytes', 'MATCH', '1', '1'],
    ],
    'the ledger’s own costs, billed back, match item by item: one row per line item',
  )

  // A provider that billed file searches at $2 per 1,000: one MISMATCH row with both unit prices.
  stored = await app.inject({ method: 'POST', url: '/v1/billing/costs?account_id=org_1', headers: h, payload: billed({ file_search_calls: '2' }) })
  t.equal(stored.statusCode, 200, stored.body)
  rows = await reconcile()
  t.same(
    rows.filter((r) => r.lineItem === 'file_search_calls'),
    [{ model: null, lineItem: 'file_search_calls', computed: '2.5', billed: '2', difference: '0.5', status: 'MISMATCH', billedUnitPrice: '0.002', cardUnitPrice: '0.0025' }],
    'a billed modelless resource item is compared with the computed one',
  )
})
