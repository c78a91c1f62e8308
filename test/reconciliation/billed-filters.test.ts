import t from 'tap'
import { seedBuckets, seedCard } from '../factories/usage.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

/**
 * Reconciliation filters by tier, batch, context tier and geo narrow the billed side too: billed costs carry
 * those fields (from OpenAI's line item, from Anthropic's columns). Before, only the computed side was
 * narrowed, so `serviceTiers: ["priority"]` compared priority usage with the whole bill: a MISMATCH for a bill
 * that matched to the cent.
 */

const D0 = '2025-10-07T00:00:00Z'
const D1 = '2025-10-08T00:00:00Z'
const start = new Date(D0)
const end = new Date(D1)
const MODEL = 'gpt-5'

const QUERY = `query($filter: UsageFilter) {
  reconciliation(from: "${D0}", to: "${D1}", groupBy: [MODEL], rateCard: "tiers", filter: $filter) {
    rows { model computed billed status }
    totals { computed billed difference }
  }
}`

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { tenantId, key } = await tenantWithKey(app, ['ingest', 'read'])
  const base = { model: MODEL, start, end, accountId: 'org-1', source: 'openai_api' }
  await seedBuckets(app.testDb, tenantId, [
    { ...base, inText: 1_000_000 },
    { ...base, serviceTier: 'priority', inText: 1_000_000 },
    { ...base, batch: true, inText: 1_000_000 },
  ])
  const input = (over: Record<string, unknown>, price: string) => ({ model: MODEL, effectiveFrom: new Date(0), prices: { input: price }, ...over })
  await seedCard(app.testDb, 'tiers', [input({}, '1'), input({ serviceTier: 'priority' }, '2'), input({ batch: true }, '0.5')], tenantId)
  const result = (lineItem: string, value: string) => ({ object: 'organization.costs.result', amount: { value, currency: 'usd' }, line_item: lineItem, project_id: null })
  const bill = {
    object: 'page',
    data: [{ object: 'bucket', start_time: start.getTime() / 1000, end_time: end.getTime() / 1000, results: [
      result(`${MODEL}, input`, '1'), result(`${MODEL}, input, priority`, '2'), result(`${MODEL}, input, batch`, '0.5'),
    ] }],
    has_more: false,
    next_page: null,
  }
  const posted = await app.inject({ method: 'POST', url: '/v1/billing/costs?account_id=org-1', headers: bearer(key), payload: bill })
  t.equal(posted.statusCode, 200, posted.body)

  const recon = async (filter: Record<string, unknown> | null) => {
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query: QUERY, variables: { filter } } })
    const body = res.json() as { data: { reconciliation: { rows: { status: string }[]; totals: { computed: string; billed: string; difference: string } } }; errors?: unknown }
    t.equal(body.errors, undefined, JSON.stringify(body.errors))
    return body.data.reconciliation
  }
  for (const [filter, amount] of [
    [null, '3.5'],
    [{ serviceTiers: ['priority'] }, '2'],
    [{ serviceTiers: ['Default'] }, '1.5'],
    [{ batch: true }, '0.5'],
    [{ batch: false }, '3'],
    [{ serviceTiers: ['default'], batch: false }, '1'],
    [{ contextTiers: ['200k-1M'] }, '0'],
  ] as const) {
    const r = await recon(filter)
    const label = JSON.stringify(filter)
    t.same({ computed: r.totals.computed, billed: r.totals.billed, difference: r.totals.difference }, { computed: amount, billed: amount, difference: '0' }, `${label}: both sides narrowed alike`)
    t.ok(r.rows.every((row) => row.status === 'MATCH'), `${label}: every row matches`, { rows: r.rows })
  }
})
