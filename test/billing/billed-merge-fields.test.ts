import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// Rows of one request that share a billed cost's natural key are summed. The key leaves out Anthropic's
// inference_geo (and the cost type, and the quantity's unit): a cost_report that lists one description at
// two geos (US-only inference is priced apart) has two such rows. The sum kept the first row's geo, so the
// stored row depended on the order of the report's rows — the same report posted again in the other order
// was `replaced` and its geo flipped — and a reconciliation filtered by `inferenceGeos` gave one geo the
// whole sum and the other nothing. Quantities of two units were added up as one.

const DAY = { from: '2025-08-01T00:00:00Z', to: '2025-08-02T00:00:00Z' }
const costRow = (geo: string, cents: string) => ({
  amount: cents,
  context_window: '0-200k',
  cost_type: 'tokens',
  currency: 'USD',
  description: 'Claude Opus 5 Usage - Input Tokens',
  inference_geo: geo,
  model: 'claude-opus-5',
  service_tier: 'standard',
  token_type: 'uncached_input_tokens',
  workspace_id: 'wrkspc_1',
})
const report = (rows: unknown[]) => ({ data: [{ starting_at: DAY.from, ending_at: DAY.to, results: rows }], has_more: false, next_page: null })

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { tenantId, key } = await tenantWithKey(app, ['ingest', 'read'])
  const post = async (payload: object, account = 'org-1') => {
    const res = await app.inject({ method: 'POST', url: `/v1/billing/costs?account_id=${account}`, headers: bearer(key), payload })
    t.equal(res.statusCode, 200, res.body)
    return res.json() as Record<string, number>
  }
  const stored = (account: string) =>
    app.testDb.query<{ inference_geo: string | null; cost_type: string | null; amount: string; quantity: string | null; quantity_unit: string | null }>(
      'select inference_geo, cost_type, amount::text as amount, quantity::text as quantity, quantity_unit from billed_costs where tenant_id = $1 and account_id = $2',
      [tenantId, account],
    )

  t.test('the same report in another order changes nothing, and the sum names no one geo', async (t) => {
    t.same(await post(report([costRow('global', '100'), costRow('us', '110')])), { received: 2, skipped: 0, created: 1, replaced: 0, unchanged: 0 })
    t.same(await stored('org-1'), [{ inference_geo: null, cost_type: 'tokens', amount: '2.1', quantity: null, quantity_unit: null }])
    t.same(await post(report([costRow('us', '110'), costRow('global', '100')])), { received: 2, skipped: 0, created: 0, replaced: 0, unchanged: 1 }, 'unchanged')
    t.same(await stored('org-1'), [{ inference_geo: null, cost_type: 'tokens', amount: '2.1', quantity: null, quantity_unit: null }])

    for (const geo of ['global', 'us']) {
      const res = await app.inject({
        method: 'POST',
        url: '/graphql',
        headers: bearer(key),
        payload: { query: `{ reconciliation(from: "${DAY.from}", to: "${DAY.to}", filter: { inferenceGeos: ["${geo}"] }) { rows { billed } } }` },
      })
      const body = res.json() as { data: { reconciliation: { rows: { billed: string | null }[] } }; errors?: unknown }
      t.equal(body.errors, undefined)
      t.same(body.data.reconciliation.rows, [], `${geo}: the $2.10 of both geos is not billed to ${geo}`)
    }
    // Parts that agree keep what they say.
    await post(report([costRow('us', '110'), costRow('us', '10')]), 'org-2')
    t.same(await stored('org-2'), [{ inference_geo: 'us', cost_type: 'tokens', amount: '1.2', quantity: null, quantity_unit: null }])
  })

  t.test('quantities of two units are not added up', async (t) => {
    const result = (quantity: number, unit: string) => ({ object: 'organization.costs.result', amount: { value: '1', currency: 'usd' }, line_item: 'gpt-image-1, images', project_id: 'p', quantity, quantity_unit: unit })
    const page = (results: unknown[]) => ({ object: 'page', data: [{ object: 'bucket', start_time: 1754006400, end_time: 1754092800, results }] })
    await post(page([result(3, 'images'), result(4, 'images')]), 'org-3')
    t.same(await stored('org-3'), [{ inference_geo: null, cost_type: null, amount: '2', quantity: '7', quantity_unit: 'images' }])
    await post(page([result(3, 'images'), result(4000, 'tokens')]), 'org-4')
    t.same(await stored('org-4'), [{ inference_geo: null, cost_type: null, amount: '2', quantity: null, quantity_unit: null }])
  })
})
