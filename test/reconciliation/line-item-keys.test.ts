import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

/**
 * Reconciliation rows are grouped by a line item's match key (model, class, tier, batch and context tier)
 * but a page's cursor holds the row's line item text, which leaves the context tier out. Two rows that
 * differ only in context tier share the cursor key: a page boundary on the first made the next page
 * start after both (firstAfter), and the second was never listed.
 */

const DAY = 1759276800 // 2025-10-01T00:00:00Z
const HOUR = 3600
const bucket = (contextTier: string | null) => ({
  start_time: DAY, end_time: DAY + HOUR, model: 'gpt-4o-mini', input_tokens: 1_000_000, output_tokens: 0, num_model_requests: 1,
  ...(contextTier ? { context_tier: contextTier } : {}),
})
const iso = (s: number) => new Date(s * 1000).toISOString()
const QUERY = `query($after: String, $first: Int) { reconciliation(from: "${iso(DAY)}", to: "${iso(DAY + 24 * HOUR)}", groupBy: [LINE_ITEM],
  first: $first, after: $after) { rows { model lineItem computed } pageInfo { hasNextPage endCursor } } }`

interface Page { rows: { model: string | null; lineItem: string | null; computed: string }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const h = bearer(key)
  const res = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: h, payload: { buckets: [bucket(null), bucket('long')] } })
  t.equal(res.statusCode, 200, res.body)
  const page = async (first: number, after: string | null = null): Promise<Page> => {
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: h, payload: { query: QUERY, variables: { first, after } } })
    const body = res.json() as { data: { reconciliation: Page }; errors?: unknown }
    t.equal(body.errors, undefined, JSON.stringify(body.errors))
    return body.data.reconciliation
  }

  const all = (await page(100)).rows
  t.equal(all.length, 2, 'two line items: the same class in two context tiers')
  const got: Page['rows'] = []
  let after: string | null = null
  for (let n = 0; n < 10; n++) {
    const p = await page(1, after)
    got.push(...p.rows)
    if (!p.pageInfo.hasNextPage) break
    after = p.pageInfo.endCursor
  }
  t.same(got, all, 'pages of one list both rows')
})
