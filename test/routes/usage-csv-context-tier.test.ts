import t from 'tap'
import { bearer, build, eachEngine, graphqlData, tenantWithKey } from '../helpers.js'

// The usage export (GET /v1/organization/usage/completions, Accept: text/csv) writes `context_tier`
// and `inference_geo` columns "so the file can be re-ingested by POST /v1/usage/buckets" — but the CSV
// ingest ignored both: the rows of one day that differ only by context tier were summed into one bucket
// with no tier, and long-context usage was then priced (or left unpriced) as if it had none.

const D1 = '2026-03-02T00:00:00Z'
const D2 = '2026-03-03T00:00:00Z'
const MODEL = 'claude-sonnet-4-5-20250929'
const result = (tier: string, geo: string, input: number, output: number) => ({
  model: MODEL, service_tier: 'standard', context_window: tier, inference_geo: geo, uncached_input_tokens: input,
  cache_read_input_tokens: 1_000, output_tokens: output, workspace_id: null, api_key_id: null,
})
const ANTHROPIC = { data: [{ starting_at: D1, ending_at: D2, results: [result('200k-1M', 'us', 600_000, 9_000), result('0-200k', 'global', 7_000, 3_000)] }], has_more: false, next_page: null }

const GQL = `{ usage(from: "${D1}", to: "${D2}", window: DAY, groupBy: [CONTEXT_TIER, INFERENCE_GEO], first: 100) { rows { contextTier inferenceGeo inputTokens outputTokens } } }`
type Row = { contextTier: string | null; inferenceGeo: string | null; inputTokens: number; outputTokens: number }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const usage = async (key: string): Promise<Row[]> =>
    (await graphqlData<{ usage: { rows: Row[] } }>(t, app, bearer(key), GQL)).usage.rows.sort((a, b) => String(a.contextTier).localeCompare(String(b.contextTier)))

  t.test('a CSV row keeps its context_tier and inference_geo; blank cells are null', async (t) => {
    const { key, tenantId } = await tenantWithKey(app)
    const csv = [
      'start_time,end_time,model,input_tokens,output_tokens,context_tier,inference_geo',
      `1772409600,1772496000,${MODEL},600000,9000,200k-1M,us`,
      `1772409600,1772496000,${MODEL},7000,3000,0-200k,global`,
      `1772409600,1772496000,${MODEL},5,1,,`,
    ].join('\n')
    const res = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: { ...bearer(key), 'content-type': 'text/csv' }, payload: csv })
    t.equal(res.statusCode, 200, res.body)
    t.match(res.json(), { received: 3, created: 3 })
    const rows = await app.testDb.query<{ context_tier: string | null; inference_geo: string | null; input_tokens: number }>(
      'select context_tier, inference_geo, input_tokens from usage_buckets where tenant_id = $1 order by input_tokens',
      [tenantId],
    )
    t.same(rows, [
      { context_tier: null, inference_geo: null, input_tokens: 5 },
      { context_tier: '0-200k', inference_geo: 'global', input_tokens: 7_000 },
      { context_tier: '200k-1M', inference_geo: 'us', input_tokens: 600_000 },
    ])
  })

  t.test('the usage export grouped by context tier and geo, re-ingested, stores the same usage', async (t) => {
    const source = await tenantWithKey(app)
    const target = await tenantWithKey(app)
    const posted = await app.inject({ method: 'POST', url: '/v1/usage/buckets?account_id=org_a', headers: bearer(source.key), payload: ANTHROPIC })
    t.equal(posted.statusCode, 200, posted.body)
    const exported = await app.inject({
      method: 'GET',
      url: `/v1/organization/usage/completions?start_time=${D1}&end_time=${D2}&bucket_width=1d&group_by=model&group_by=context_tier&group_by=inference_geo`,
      headers: { ...bearer(source.key), accept: 'text/csv' },
    })
    t.equal(exported.statusCode, 200, exported.body)
    const res = await app.inject({ method: 'POST', url: '/v1/usage/buckets?provider=anthropic&account_id=org_a', headers: { ...bearer(target.key), 'content-type': 'text/csv' }, payload: exported.body })
    t.equal(res.statusCode, 200, res.body)
    const want = await usage(source.key)
    t.equal(want.length, 2, 'two tiers')
    t.same(await usage(target.key), want)
  })
})
