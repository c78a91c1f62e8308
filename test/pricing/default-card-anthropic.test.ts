import { findProvider, type ModelPrice } from '@pydantic/genai-prices'
import { Decimal } from 'decimal.js'
import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import { bearer, build, eachEngine, fixturePath, tenantWithKey } from '../helpers.js'
import { postBuckets } from '../factories/buckets.js'
import { costOf, type OracleRow, type TestRate } from '../factories/resources.js'

// The default card's Anthropic rates against the installed catalog read directly (not through
// src/pricing/catalog), and the way they price usage of each context tier, against decimal.js.

interface RateOut { model: string; service_tier: string; batch: boolean; context_tier: string | null; prices: Record<string, string>; unit_prices: { resource: string; price: string }[]; source: string }
type Flat = Record<string, number>

const M = new Decimal('0.000001')
const anthropic = findProvider({ providerId: 'anthropic' })!
const entry = (id: string) => anthropic.models.find((m) => m.id === id)!
/** A catalog price segment split into its flat prices (below 200K) and its long-context prices (above). */
function split(p: ModelPrice): { base: Flat; long: Flat } {
  const base: Flat = {}
  const long: Flat = {}
  for (const [k, v] of Object.entries(p)) {
    if (typeof v === 'number') base[k] = long[k] = v
    else if (v) {
      base[k] = v.base
      long[k] = v.tiers[0]!.price
    }
  }
  return { base, long }
}
const segments = (id: string) => {
  const p = entry(id).prices
  return Array.isArray(p) ? p.map((c) => c.prices) : [p as ModelPrice]
}
/** Our class names for the catalog keys that Anthropic bills. */
const CLASSES: [string, string][] = [['input_mtok', 'input'], ['cache_read_mtok', 'cached_input'], ['cache_write_mtok', 'cache_write'], ['cache_write_1h_mtok', 'cache_write_1h'], ['output_mtok', 'output']]

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const rates = async (query: string) => {
    const res = await app.inject({ method: 'GET', url: `/v1/rate-cards/default/rates?provider=anthropic&${query}`, headers: bearer(key) })
    t.equal(res.statusCode, 200)
    return res.json().data as RateOut[]
  }
  const pick = (list: RateOut[], ctx: string | null, batch = false) => list.find((r) => r.service_tier === 'default' && r.batch === batch && r.context_tier === ctx)
  const samePrices = (t: Test, r: RateOut | undefined, catalog: Flat, factor: string, what: string) => {
    t.ok(r, what)
    for (const [k, cls] of CLASSES) t.ok(new Decimal(r!.prices[cls]!).equals(new Decimal(catalog[k]!).times(factor)), `${what} ${cls}`)
  }

  t.test('flat models: both cache-write durations, batch at half, 200k-1M unpriced where the catalog lists ≤ 200k', async (t) => {
    const haiku = segments('claude-haiku-4-5')[0]!
    t.equal(entry('claude-haiku-4-5').context_window, 200_000)
    const list = await rates('model=claude-haiku-4-5-20251001')
    samePrices(t, pick(list, null), split(haiku).base, '1', 'standard')
    samePrices(t, pick(list, null, true), split(haiku).base, '0.5', 'batch')
    t.same(pick(list, '200k-1M')?.prices, {}, 'long-context usage of a ≤ 200k model is unpriced')
    t.same(pick(list, '200k-1M', true)?.prices, {})
    t.equal(pick(list, '0-200k'), undefined, 'short usage takes the any-tier rate')
    t.same(pick(list, null)!.unit_prices, [{ resource: 'web_search_calls', attributes: {}, price: new Decimal(haiku.web_searches_kcount as number).div(1000).toFixed() }])

    const opus5 = await rates('model=claude-opus-5')
    t.equal(entry('claude-opus-5').context_window, 1_000_000)
    samePrices(t, pick(opus5, null), split(segments('claude-opus-5')[0]!).base, '1', 'opus-5')
    t.equal(pick(opus5, '200k-1M'), undefined, 'a 1M model listed flat prices every tier with its one rate')
  })

  t.test('tiered models: a priceless any-tier rate plus 0-200k and 200k-1M rates', async (t) => {
    const sonnet = split(segments('claude-sonnet-4-5')[0]!)
    const list = await rates('model=claude-sonnet-4-5-20250929')
    t.same(pick(list, null)?.prices, {}, 'usage that does not say its tier is unpriced')
    t.match(pick(list, null)?.source, /unpriced without a context tier/)
    samePrices(t, pick(list, '0-200k'), sonnet.base, '1', '0-200k')
    samePrices(t, pick(list, '200k-1M'), sonnet.long, '1', '200k-1M')
    samePrices(t, pick(list, '200k-1M', true), sonnet.long, '0.5', 'batch 200k-1M')
    t.same(pick(list, null, true)?.prices, {})
  })

  t.test('a model whose tiers end (claude-sonnet-4-6 is flat from 2026-03-13): the tier rates end with them', async (t) => {
    const [tiered, flat] = segments('claude-sonnet-4-6')
    const before = await rates('model=claude-sonnet-4-6&at=2026-03-12T23:59:59Z')
    samePrices(t, pick(before, '200k-1M'), split(tiered!).long, '1', 'before: 200k-1M')
    t.same(pick(before, null)?.prices, {})
    const after = await rates('model=claude-sonnet-4-6&at=2026-03-13T00:00:00Z')
    t.equal(pick(after, '200k-1M'), undefined, 'no tier rate after the change')
    t.equal(pick(after, '0-200k'), undefined)
    samePrices(t, pick(after, null), split(flat!).base, '1', 'after: flat')
  })

  t.test('usage of each tier is priced by its own rate; untiered usage of a tiered model stays unpriced', async (t) => {
    const day = (d: string) => ({ start_time: `${d}T00:00:00Z`, end_time: `${new Date(Date.parse(`${d}T00:00:00Z`) + 86_400_000).toISOString()}` })
    const tokens = { input_uncached_tokens: 1_000_003, input_cached_tokens: 20_011, input_cache_write_tokens: 3_001, input_cache_write_1h_tokens: 4_007, output_tokens: 50_021 }
    const b = (d: string, model: string, ctx: string | null, batch = false) => ({ ...day(d), provider: 'anthropic', model, context_tier: ctx, batch, ...tokens })
    const rows = [
      b('2025-10-01', 'claude-sonnet-4-5-20250929', '0-200k'),
      b('2025-10-01', 'claude-sonnet-4-5-20250929', '200k-1M'),
      b('2025-10-01', 'claude-sonnet-4-5-20250929', null),
      b('2025-10-01', 'claude-sonnet-4-5-20250929', '200k-1M', true),
      b('2025-10-01', 'claude-haiku-4-5-20251001', '0-200k'),
      b('2025-10-01', 'claude-haiku-4-5-20251001', '200k-1M'),
      b('2026-03-01', 'claude-sonnet-4-6', '200k-1M'),
      b('2026-04-01', 'claude-sonnet-4-6', '200k-1M'),
    ]
    const posted = await postBuckets(app, key, { buckets: rows })
    t.equal(posted.statusCode, 200, posted.body)
    const cost = (p: Flat | undefined, factor = '1') => {
      const n = [tokens.input_uncached_tokens, tokens.input_cached_tokens, tokens.input_cache_write_tokens, tokens.input_cache_write_1h_tokens, tokens.output_tokens]
      if (!p) return { total: '0', unpriced: n.reduce((a, x) => a + x, 0) }
      const total = CLASSES.reduce((s, [k], i) => s.plus(new Decimal(n[i]!).times(p[k]!).times(factor).times(M)), new Decimal(0))
      return { total: total.toFixed(), unpriced: 0 }
    }
    const s45 = split(segments('claude-sonnet-4-5')[0]!)
    const [s46tiered, s46flat] = segments('claude-sonnet-4-6').map(split)
    const expected = [
      cost(s45.base), cost(s45.long), cost(undefined), cost(s45.long, '0.5'),
      cost(split(segments('claude-haiku-4-5')[0]!).base), cost(undefined),
      cost(s46tiered!.long), cost(s46flat!.base),
    ]
    const res = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: bearer(key),
      payload: { query: `{ usage(from: "2025-10-01T00:00:00Z", to: "2026-04-02T00:00:00Z", window: DAY, groupBy: [MODEL, CONTEXT_TIER, BATCH]) {
        rows { windowStart model contextTier batch cost { total unpricedTokens complete } } totals { cost { total complete } } } }` },
    })
    const body = res.json() as { data: { usage: { rows: { windowStart: string; model: string; contextTier: string | null; batch: boolean; cost: { total: string; unpricedTokens: number } }[]; totals: { cost: { total: string; complete: boolean } } } }; errors?: unknown }
    t.equal(body.errors, undefined, JSON.stringify(body.errors))
    rows.forEach((r, i) => {
      const got = body.data.usage.rows.find((x) => Date.parse(x.windowStart) === Date.parse(r.start_time) && x.model === r.model && x.contextTier === r.context_tier && x.batch === r.batch)
      t.same({ total: got?.cost.total, unpriced: got?.cost.unpricedTokens }, expected[i], `${r.model} ${r.context_tier} batch=${r.batch} ${r.start_time}`)
    })
    const sum = expected.reduce((s, e) => s.plus(e.total), new Decimal(0))
    t.same(body.data.usage.totals.cost, { total: sum.toFixed(), complete: false })
  })

  t.test('both Anthropic fixture reports, priced by the default card: tokens of both cache-write durations and web searches', async (t) => {
    interface Report { data: { starting_at: string; results: Record<string, unknown>[] }[] }
    const rows: OracleRow[] = []
    for (const [i, name] of ['anthropic_usage_report_messages_example.json', 'anthropic_usage_report_messages_example_2026.json'].entries()) {
      const path = fixturePath(t, `anthropic/${name}`)
      if (!path) return
      const body = readFileSync(path, 'utf8')
      t.equal((await postBuckets(app, key, body, 'application/json', `?account_id=org_${i}`)).statusCode, 200, name)
      // The contract's mapping, written out here: uncached → input, cache read → cached input, 5m/1h writes apart.
      for (const r of (JSON.parse(body) as Report).data.flatMap((b) => b.results)) {
        const cc = r.cache_creation as Record<string, number>
        const base = { provider: 'anthropic', model: r.model as string, contextTier: r.context_window as string }
        rows.push({ ...base, classes: { in_text: r.uncached_input_tokens as number, cached_text: r.cache_read_input_tokens as number, cache_write: cc.ephemeral_5m_input_tokens!, cache_write_1h: cc.ephemeral_1h_input_tokens!, out_text: r.output_tokens as number } })
        rows.push({ ...base, resource: 'web_search_calls', attributes: {}, quantity: String((r.server_tool_use as Record<string, number>).web_search_requests) })
      }
    }
    const res = await app.inject({ method: 'GET', url: '/v1/rate-cards/default/rates?provider=anthropic&at=2025-08-01T00:00:00Z', headers: bearer(key) })
    const want = costOf(rows, res.json().data as TestRate[])
    t.ok(want.unpriced.size === 0 && want.unpricedTokens === 0, 'the default card prices all of it')
    const gql = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: bearer(key),
      payload: { query: '{ usage(from: "2025-08-01T00:00:00Z", to: "2025-08-02T00:00:00Z", window: TOTAL, filter: { providers: ["anthropic"] }) { totals { cacheWrite1hTokens cost { total resources complete } } } }' },
    })
    t.same(gql.json().data.usage.totals, { cacheWrite1hTokens: 2000, cost: { total: want.total.toFixed(), resources: want.resources.toFixed(), complete: true } })
  })
})
