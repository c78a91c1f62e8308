import { parse } from 'csv-parse/sync'
import { Decimal } from 'decimal.js'
import t from 'tap'
import { createTestCard, gql } from '../factories/resources.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// The completions mirror's extensions `group_by=context_tier|inference_geo` and the filters
// `context_tiers`, `inference_geos`: an Anthropic report with a long-context day, read through the
// mirror in JSON and CSV, equals GraphQL `usage(groupBy: [CONTEXT_TIER])` day by day, and the filters
// keep exactly the usage GraphQL's filters keep.

const D1 = '2026-03-02T00:00:00Z'
const D2 = '2026-03-03T00:00:00Z'
const D3 = '2026-03-04T00:00:00Z'
const MODEL = 'claude-sonnet-4-5-20250929'
const result = (tier: string, geo: string, input: number, write1h: number, output: number) => ({
  model: MODEL, service_tier: 'standard', context_window: tier, inference_geo: geo, uncached_input_tokens: input,
  cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: write1h }, cache_read_input_tokens: 1_000,
  output_tokens: output, server_tool_use: { web_search_requests: 0 }, workspace_id: null, api_key_id: null,
})
const ANTHROPIC = {
  data: [
    { starting_at: D1, ending_at: D2, results: [result('0-200k', 'global', 41_000, 13_000, 17_000)] },
    // The long-context day: both tiers, two geos.
    { starting_at: D2, ending_at: D3, results: [result('200k-1M', 'us', 600_000, 210_000, 9_000), result('0-200k', 'global', 7_000, 0, 3_000)] },
  ],
  has_more: false,
  next_page: null,
}
const RATES = [
  { provider: 'anthropic', model: 'claude-sonnet-4-5*', context_tier: '0-200k', prices: { input: '3', cached_input: '0.3', cache_write_1h: '6', output: '15' } },
  // No 1-hour cache-write price in the long tier: those tokens are unpriced, on both sides alike.
  { provider: 'anthropic', model: 'claude-sonnet-4-5*', context_tier: '200k-1M', prices: { input: '6', cached_input: '0.6', output: '22.5' } },
]

interface Group { day: number; tier: string | null; geo: string | null; input: number; output: number; cost: string; complete: boolean; unpriced: number }
const keyOf = (g: Group) => JSON.stringify([g.day, g.tier, g.geo])
const table = (gs: Group[]) => Object.fromEntries(gs.map((g) => [keyOf(g), g]))

const GQL = `query($from: DateTime!, $to: DateTime!, $card: String!, $groupBy: [UsageDimension!], $filter: UsageFilter) {
  usage(from: $from, to: $to, window: DAY, timeZone: "UTC", groupBy: $groupBy, filter: $filter, rateCard: $card, first: 1000) {
    rows { windowStart contextTier inferenceGeo inputTokens outputTokens cost { total complete unpricedTokens } }
  }
}`
interface GqlRow { windowStart: string; contextTier: string | null; inferenceGeo: string | null; inputTokens: number; outputTokens: number; cost: { total: string; complete: boolean; unpricedTokens: number } }
interface MirrorResult { context_tier: string | null; inference_geo: string | null; input_tokens: number; output_tokens: number; cost: { value_exact: string; complete: boolean; unpriced_tokens: number } }
interface MirrorPage { data: { start_time: number; results: MirrorResult[] }[]; has_more: boolean }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app)
  const posted = await app.inject({ method: 'POST', url: '/v1/usage/buckets?account_id=org_a', headers: bearer(key), payload: ANTHROPIC })
  t.equal(posted.statusCode, 200, posted.body)
  const card = `tiers-${tenantId}`
  await createTestCard(app, tenantId, card, RATES)

  async function graphql(groupBy: string[], filter: Record<string, readonly string[]> = {}): Promise<Group[]> {
    const { usage } = await gql<{ usage: { rows: GqlRow[] } }>(app, key, GQL, { from: D1, to: D3, card, groupBy, filter })
    return usage.rows.map((r) => ({
      day: Date.parse(r.windowStart) / 1000, tier: r.contextTier, geo: r.inferenceGeo, input: r.inputTokens, output: r.outputTokens,
      cost: r.cost.total, complete: r.cost.complete, unpriced: r.cost.unpricedTokens,
    }))
  }
  const base = `/v1/organization/usage/completions?start_time=${D1}&end_time=${D3}&bucket_width=1d&rate_card=${card}`
  async function mirror(query: string): Promise<Group[]> {
    const res = await app.inject({ method: 'GET', url: `${base}&${query}`, headers: bearer(key) })
    t.equal(res.statusCode, 200, res.body)
    const page = res.json() as MirrorPage
    t.equal(page.has_more, false)
    return page.data.flatMap((b) =>
      b.results.map((r) => ({
        day: b.start_time, tier: r.context_tier, geo: r.inference_geo, input: r.input_tokens, output: r.output_tokens,
        cost: r.cost.value_exact, complete: r.cost.complete, unpriced: r.cost.unpriced_tokens,
      })),
    )
  }

  t.test('grouped by context_tier, JSON equals GraphQL usage(groupBy: [CONTEXT_TIER])', async (t) => {
    const want = await graphql(['CONTEXT_TIER'])
    t.equal(want.length, 3, 'one row per day and tier')
    t.ok(want.some((g) => g.tier === '200k-1M' && !g.complete), 'the long tier has its unpriced 1-hour writes')
    const got = await mirror('group_by=context_tier')
    t.same(table(got), table(want))
    t.ok(got.every((g) => g.geo === null), 'inference_geo is null when not grouped')
    const cost = (gs: Group[]) => gs.reduce((a, g) => a.plus(g.cost), new Decimal(0)).toFixed()
    const oracle = new Decimal(41_000 * 3 + 13_000 * 6 + 1_000 * 0.3 + 17_000 * 15 + 7_000 * 3 + 1_000 * 0.3 + 3_000 * 15 + 600_000 * 6 + 1_000 * 0.6 + 9_000 * 22.5).div(1e6)
    t.equal(cost(got), oracle.toFixed(), 'the total equals the decimal computation')
  })

  t.test('the CSV has context_tier and inference_geo columns, the same groups', async (t) => {
    const res = await app.inject({ method: 'GET', url: `${base}&group_by=context_tier&group_by=inference_geo`, headers: { ...bearer(key), accept: 'text/csv' } })
    t.equal(res.statusCode, 200, res.body)
    const rows = parse(res.body, { columns: true }) as Record<string, string>[]
    t.ok(Object.keys(rows[0]!).includes('context_tier') && Object.keys(rows[0]!).includes('inference_geo'), 'the columns')
    const got = rows.map((r) => ({
      day: Number(r.start_time), tier: r.context_tier || null, geo: r.inference_geo || null, input: Number(r.input_tokens), output: Number(r.output_tokens),
      cost: r.cost_value!, complete: r.cost_complete === 'true', unpriced: Number(r.unpriced_tokens),
    }))
    t.same(table(got), table(await graphql(['CONTEXT_TIER', 'INFERENCE_GEO'])))
    const tiers = parse((await app.inject({ method: 'GET', url: `${base}&group_by=context_tier`, headers: { ...bearer(key), accept: 'text/csv' } })).body, { columns: true }) as Record<string, string>[]
    t.same(new Set(tiers.map((r) => r.inference_geo)), new Set(['']), 'inference_geo blank when not grouped')
    t.same(tiers.map((r) => `${r.start_time} ${r.context_tier}`).sort(), (await graphql(['CONTEXT_TIER'])).map((g) => `${g.day} ${g.tier}`).sort())
  })

  t.test('the filters narrow exactly as GraphQL’s', async (t) => {
    for (const [query, filter] of [
      ['context_tiers=200k-1M', { contextTiers: ['200k-1M'] }],
      ['context_tiers[]=0-200k', { contextTiers: ['0-200k'] }],
      ['context_tiers[0]=0-200k&context_tiers[1]=200k-1M', { contextTiers: ['0-200k', '200k-1M'] }],
      ['inference_geos=us', { inferenceGeos: ['us'] }],
      ['inference_geos=global,us&context_tiers=0-200k', { inferenceGeos: ['global', 'us'], contextTiers: ['0-200k'] }],
      ['inference_geos=eu', { inferenceGeos: ['eu'] }],
    ] as const) {
      const got = await mirror(`group_by=context_tier&group_by=inference_geo&${query}`)
      const want = await graphql(['CONTEXT_TIER', 'INFERENCE_GEO'], filter)
      t.same(table(got), table(want), query)
      for (const g of got) {
        if ('contextTiers' in filter) t.ok((filter.contextTiers as readonly string[]).includes(g.tier!), `${query}: tier kept`)
        if ('inferenceGeos' in filter) t.ok((filter.inferenceGeos as readonly string[]).includes(g.geo!), `${query}: geo kept`)
      }
    }
    t.equal((await mirror('inference_geos=us')).reduce((a, g) => a + g.input, 0), 600_000 + 210_000 + 1_000, 'the us day’s input tokens, ungrouped')
  })

  t.test('an unknown group_by is still refused, naming it', async (t) => {
    const res = await app.inject({ method: 'GET', url: `${base}&group_by=context_window`, headers: bearer(key) })
    t.equal(res.statusCode, 400)
    t.match(res.body, /group_by/)
  })
})
