import { readFileSync } from 'node:fs'
import t from 'tap'
import { bearer, build, eachEngine, fixturePath, tenantWithKey } from '../helpers.js'

/**
 * Anthropic's usage report and cost_report of the same day (2025-08-01, claude-opus-5, 0-200k context),
 * reconciled per token type at the default card's prices. The expected values are written out by hand
 * from Anthropic's published Claude Opus prices per million tokens: input $5, cache read $0.50, 5-minute
 * cache write $6.25, 1-hour cache write $10, output $25.
 *
 *   uncached input   1,500 × $5    / 1M = $0.0075
 *   cache read         200 × $0.50 / 1M = $0.0001
 *   5-minute write     500 × $6.25 / 1M = $0.003125
 *   1-hour write     1,000 × $10   / 1M = $0.01
 *   output             500 × $25   / 1M = $0.0125
 *   web search          10 × $10   / 1K searches = $0.1  (a resource: `web_search_calls`)
 *
 * The docs' cost_report example bills only uncached input, 123.78912 cents = $1.2378912 (its amount is
 * illustrative, so that line is a MISMATCH and the unbilled token types are COMPUTED_ONLY). A second
 * account gets a cost_report written by hand in cents from the same prices: every token type MATCHes.
 */

const DAY = { from: '2025-08-01T00:00:00Z', to: '2025-08-02T00:00:00Z' }
const QUERY = `query($accounts: [String!]) {
  reconciliation(from: "${DAY.from}", to: "${DAY.to}", groupBy: [ACCOUNT, LINE_ITEM], filter: { accountIds: $accounts }) {
    rows { accountId model lineItem computed billed difference status unpricedTokens billedUnitPrice cardUnitPrice }
    totals { computed billed difference unpricedTokens }
  }
}`

/** A cost_report row as Anthropic writes it, amount in cents. */
const costRow = (tokenType: string | null, cents: string, description: string, costType = 'tokens') => ({
  amount: cents,
  context_window: '0-200k',
  cost_type: costType,
  currency: 'USD',
  description,
  inference_geo: 'global',
  model: 'claude-opus-5',
  service_tier: 'standard',
  token_type: tokenType,
  workspace_id: 'wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ',
})

void eachEngine(t, async (t, engine) => {
  const usagePath = fixturePath(t, 'anthropic/anthropic_usage_report_messages_example_2026.json')
  const costPath = fixturePath(t, 'anthropic/anthropic_cost_report_example.json')
  if (!usagePath || !costPath) return
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const post = async (url: string, payload: unknown) => {
    const res = await app.inject({ method: 'POST', url, headers: bearer(key), payload: payload as object })
    t.equal(res.statusCode, 200, res.body)
  }
  const usage = JSON.parse(readFileSync(usagePath, 'utf8')) as object
  await post('/v1/usage/buckets?account_id=org-docs', usage)
  await post('/v1/billing/costs?account_id=org-docs', JSON.parse(readFileSync(costPath, 'utf8')))
  await post('/v1/usage/buckets?account_id=org-exact', usage)
  // The same usage again in the priority tier, which cost_report never lists (a documented mismatch).
  const withPriority = JSON.parse(JSON.stringify(usage)) as { data: { results: Record<string, unknown>[] }[] }
  withPriority.data[0]!.results.push({ ...withPriority.data[0]!.results[0]!, service_tier: 'priority' })
  await post('/v1/usage/buckets?account_id=org-priority', withPriority)
  const exactBill = {
    data: [
      {
        starting_at: DAY.from,
        ending_at: DAY.to,
        results: [
          costRow('uncached_input_tokens', '0.75', 'Claude Opus 5 Usage - Input Tokens'),
          costRow('cache_read_input_tokens', '0.01', 'Claude Opus 5 Usage - Cache Read'),
          costRow('cache_creation.ephemeral_5m_input_tokens', '0.3125', 'Claude Opus 5 Usage - Cache Write 5m'),
          costRow('cache_creation.ephemeral_1h_input_tokens', '1', 'Claude Opus 5 Usage - Cache Write 1h'),
          costRow('output_tokens', '1.25', 'Claude Opus 5 Usage - Output Tokens'),
          costRow(null, '10', 'Claude Opus 5 Usage - Web Search', 'web_search'),
        ],
      },
    ],
    has_more: false,
    next_page: null,
  }
  await post('/v1/billing/costs?account_id=org-exact', exactBill)
  await post('/v1/billing/costs?account_id=org-priority', exactBill)

  const run = async (accounts: string[]) => {
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query: QUERY, variables: { accounts } } })
    const body = res.json() as { data: { reconciliation: { rows: Record<string, unknown>[]; totals: Record<string, unknown> } }; errors?: unknown }
    t.equal(body.errors, undefined, JSON.stringify(body.errors))
    return body.data.reconciliation
  }
  const row = (lineItem: string, computed: string, billed: string | null, difference: string | null, status: string) => ({
    model: 'claude-opus-5',
    lineItem,
    computed,
    billed,
    difference,
    status,
    unpricedTokens: 0,
    billedUnitPrice: null,
    cardUnitPrice: null,
  })

  const docs = await run(['org-docs'])
  t.same(
    docs.rows.map(({ accountId: _a, ...r }) => r),
    [
      row('cache_creation.ephemeral_1h_input_tokens', '0.01', null, null, 'COMPUTED_ONLY'),
      row('cache_creation.ephemeral_5m_input_tokens', '0.003125', null, null, 'COMPUTED_ONLY'),
      row('cache_read_input_tokens', '0.0001', null, null, 'COMPUTED_ONLY'),
      row('output_tokens', '0.0125', null, null, 'COMPUTED_ONLY'),
      // No quantity in cost_report, so no unit prices even on the mismatch.
      row('uncached_input_tokens', '0.0075', '1.2378912', '-1.2303912', 'MISMATCH'),
      row('web_search', '0.1', null, null, 'COMPUTED_ONLY'),
    ],
  )
  t.same(docs.totals, { computed: '0.133225', billed: '1.2378912', difference: '-1.1046662', unpricedTokens: 0 })

  const exact = await run(['org-exact'])
  t.same(
    exact.rows.map((r) => [r.lineItem, r.computed, r.billed, r.status]),
    [
      ['cache_creation.ephemeral_1h_input_tokens', '0.01', '0.01', 'MATCH'],
      ['cache_creation.ephemeral_5m_input_tokens', '0.003125', '0.003125', 'MATCH'],
      ['cache_read_input_tokens', '0.0001', '0.0001', 'MATCH'],
      ['output_tokens', '0.0125', '0.0125', 'MATCH'],
      ['uncached_input_tokens', '0.0075', '0.0075', 'MATCH'],
      ['web_search', '0.1', '0.1', 'MATCH'],
    ],
  )
  t.same(exact.totals, { computed: '0.133225', billed: '0.133225', difference: '0', unpricedTokens: 0 })

  // Priority usage is COMPUTED_ONLY (it comes before UNPRICED: the default card has no priority rates either).
  const priority = await run(['org-priority'])
  t.same(
    priority.rows.map((r) => [r.lineItem, r.status]),
    [
      ['cache_creation.ephemeral_1h_input_tokens', 'MATCH'],
      ['cache_creation.ephemeral_1h_input_tokens, priority', 'COMPUTED_ONLY'],
      ['cache_creation.ephemeral_5m_input_tokens', 'MATCH'],
      ['cache_creation.ephemeral_5m_input_tokens, priority', 'COMPUTED_ONLY'],
      ['cache_read_input_tokens', 'MATCH'],
      ['cache_read_input_tokens, priority', 'COMPUTED_ONLY'],
      ['output_tokens', 'MATCH'],
      ['output_tokens, priority', 'COMPUTED_ONLY'],
      ['uncached_input_tokens', 'MATCH'],
      ['uncached_input_tokens, priority', 'COMPUTED_ONLY'],
      ['web_search', 'MATCH'],
      ['web_search, priority', 'COMPUTED_ONLY'],
    ],
  )
  t.equal(priority.totals.unpricedTokens, 1500 + 200 + 500 + 1000 + 500, 'the priority tokens are unpriced, never $0')
})
