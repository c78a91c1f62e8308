import t from 'tap'
import { seedBuckets, seedCard } from '../factories/usage.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

/**
 * GET /v1/reconciliation takes GraphQL `reconciliation`'s parameters in snake_case (contract v2), the
 * filter's included: every UsageFilter field narrows the computed side of both faces alike. Usage of one
 * day in two tiers, two context tiers, two geos, two usage types, batch and not, text and audio; each
 * filter given over REST answers the rows and totals GraphQL answers for it.
 */

const D0 = '2025-10-07T00:00:00Z'
const D1 = '2025-10-08T00:00:00Z'
const start = new Date(D0)
const end = new Date(D1)
const MODEL = 'gpt-4o-2024-08-06'

const QUERY = `query($filter: UsageFilter) {
  reconciliation(from: "${D0}", to: "${D1}", groupBy: [MODEL], rateCard: "filters", filter: $filter) {
    rows { model computed billed difference status unpricedTokens }
    totals { computed billed difference unpricedTokens }
  }
}`

const CASES: [string, Record<string, unknown>][] = [
  ['service_tiers=priority', { serviceTiers: ['priority'] }],
  ['usage_types=embeddings', { usageTypes: ['embeddings'] }],
  ['context_tiers=200k-1M', { contextTiers: ['200k-1M'] }],
  ['inference_geos=us', { inferenceGeos: ['us'] }],
  ['batch=true', { batch: true }],
  ['batch=false', { batch: false }],
  ['modalities=audio', { modalities: ['audio'] }],
  ['resources=images', { resources: ['images'] }],
  ['service_tiers[]=priority&service_tiers[]=flex', { serviceTiers: ['priority', 'flex'] }],
]

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { tenantId, key } = await tenantWithKey(app, ['ingest', 'read'])
  const base = { model: MODEL, start, end, accountId: 'org-1', source: 'openai_api' }
  await seedBuckets(app.testDb, tenantId, [
    { ...base, inText: 1_000_000, outText: 100_000 },
    { ...base, serviceTier: 'priority', inText: 2_000_000 },
    { ...base, serviceTier: 'flex', inText: 3_000_000 },
    { ...base, batch: true, inText: 4_000_000 },
    { ...base, projectId: 'proj-embed', usageType: 'embeddings', inText: 5_000_000 },
    { ...base, contextTier: '200k-1M', inText: 6_000_000 },
    { ...base, inferenceGeo: 'us', inText: 7_000_000 },
    { ...base, projectId: 'proj-voice', inAudio: 8_000_000 },
  ])
  await seedCard(app.testDb, 'filters', [{ model: '*', effectiveFrom: new Date(0), prices: { input: '1', input_audio: '10', output: '2' } }], tenantId)
  const bill = {
    object: 'page',
    data: [{ object: 'bucket', start_time: start.getTime() / 1000, end_time: end.getTime() / 1000, results: [{ object: 'organization.costs.result', amount: { value: '3', currency: 'usd' }, line_item: null, project_id: null }] }],
    has_more: false,
    next_page: null,
  }
  const posted = await app.inject({ method: 'POST', url: '/v1/billing/costs?account_id=org-1', headers: bearer(key), payload: bill })
  t.equal(posted.statusCode, 200, posted.body)

  const gql = async (filter: Record<string, unknown> | null) => {
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query: QUERY, variables: { filter } } })
    const body = res.json() as { data: { reconciliation: { rows: Record<string, unknown>[]; totals: Record<string, unknown> } }; errors?: unknown }
    t.equal(body.errors, undefined, JSON.stringify(body.errors))
    return body.data.reconciliation
  }
  const rest = async (params: string) => {
    const res = await app.inject({ method: 'GET', url: `/v1/reconciliation?from=${D0}&to=${D1}&group_by=model&rate_card=filters&${params}`, headers: bearer(key) })
    t.equal(res.statusCode, 200, res.body)
    const page = res.json() as { data: Record<string, unknown>[]; totals: Record<string, unknown> }
    return {
      rows: page.data.map((r) => ({ model: r.model, computed: r.computed, billed: r.billed, difference: r.difference, status: r.status, unpricedTokens: r.unpriced_tokens })),
      totals: { computed: page.totals.computed, billed: page.totals.billed, difference: page.totals.difference, unpricedTokens: page.totals.unpriced_tokens },
    }
  }

  const all = await gql(null)
  t.equal(all.totals.computed, '99.2', 'unfiltered: every default-tier row priced at $1 (input), $2 (output), $10 (input audio) per 1M')
  for (const [params, filter] of CASES) {
    const want = await gql(filter)
    t.notSame(want.totals, all.totals, `${params}: GraphQL's filter narrows the computed side`)
    t.same(await rest(params), want, `${params}: REST answers what GraphQL answers`)
  }

  const bad = await app.inject({ method: 'GET', url: `/v1/reconciliation?from=${D0}&to=${D1}&modalities=video&batch=maybe`, headers: bearer(key) })
  t.equal(bad.statusCode, 400, 'a filter value no filter takes is a 400')
  const problems = (bad.json() as { errors: { path: string }[] }).errors.map((e) => e.path)
  t.ok(problems.some((p) => p.includes('modalities')) && problems.some((p) => p.includes('batch')), `both named (${problems.join(', ')})`)
})
