import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// A billed cost's batch flag is stored as reported on both engines. postgres.js serialises each element
// of a bool[] parameter with its boolean serializer (`x === true ? 't' : 'f'`), so the text "true" of
// a batch row was stored as false on PostgreSQL (PGlite parses the text): Anthropic's batch costs then
// reconciled as standard-tier costs, summed into the standard line item.

const DAY = { from: '2025-08-01T00:00:00Z', to: '2025-08-02T00:00:00Z' }
const costRow = (serviceTier: string, cents: string) => ({
  amount: cents,
  context_window: '0-200k',
  cost_type: 'tokens',
  currency: 'USD',
  description: 'Claude Opus 5 Usage - Input Tokens',
  inference_geo: 'global',
  model: 'claude-opus-5',
  service_tier: serviceTier,
  token_type: 'uncached_input_tokens',
  workspace_id: 'wrkspc_1',
})

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { tenantId, key } = await tenantWithKey(app, ['ingest', 'read'])

  const res = await app.inject({
    method: 'POST',
    url: '/v1/billing/costs?account_id=org-1',
    headers: bearer(key),
    payload: { data: [{ starting_at: DAY.from, ending_at: DAY.to, results: [costRow('standard', '100'), costRow('batch', '50')] }], has_more: false, next_page: null },
  })
  t.equal(res.statusCode, 200, res.body)
  t.same(res.json(), { received: 2, skipped: 0, created: 2, replaced: 0, unchanged: 0 })

  const openai = await app.inject({
    method: 'POST',
    url: '/v1/billing/costs?account_id=org-2',
    headers: bearer(key),
    payload: {
      object: 'page',
      data: [{ object: 'bucket', start_time: 1754006400, end_time: 1754092800, results: [{ object: 'organization.costs.result', amount: { value: '0.5', currency: 'usd' }, line_item: 'gpt-4o-mini, input, batch', project_id: null }] }],
    },
  })
  t.equal(openai.statusCode, 200, openai.body)

  const stored = await app.testDb.query<{ account_id: string; service_tier: string | null; batch: boolean | null; amount: string }>(
    'select account_id, service_tier, batch, amount::text as amount from billed_costs where tenant_id = $1 order by account_id, amount',
    [tenantId],
  )
  t.same(stored, [
    { account_id: 'org-1', service_tier: 'default', batch: true, amount: '0.5' },
    { account_id: 'org-1', service_tier: 'default', batch: false, amount: '1' },
    { account_id: 'org-2', service_tier: 'default', batch: true, amount: '0.5' },
  ])

  const recon = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: bearer(key),
    payload: { query: `{ reconciliation(from: "${DAY.from}", to: "${DAY.to}", groupBy: [ACCOUNT, LINE_ITEM], filter: { accountIds: ["org-1"] }) { rows { lineItem billed status } } }` },
  })
  const body = recon.json() as { data: { reconciliation: { rows: { lineItem: string; billed: string; status: string }[] } }; errors?: unknown }
  t.equal(body.errors, undefined, JSON.stringify(body.errors))
  t.same(body.data.reconciliation.rows, [
    { lineItem: 'uncached_input_tokens', billed: '1', status: 'BILLED_ONLY' },
    { lineItem: 'uncached_input_tokens, batch', billed: '0.5', status: 'BILLED_ONLY' },
  ], 'the batch cost is its own line item')
})
