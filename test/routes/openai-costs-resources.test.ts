import type { AddressInfo } from 'node:net'
import { Decimal } from 'decimal.js'
import OpenAI from 'openai'
import t from 'tap'
import { postBuckets } from '../factories/buckets.js'
import { CLASS_PRICES, costOf, createTestCard, pickRate, type OracleRow, type TestRate } from '../factories/resources.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// The costs mirror over the whole bill: OpenAI tokens, images, storage and web searches, Anthropic
// tokens with both cache-write durations on a long-context day — line items against an independent
// computation from the default card's rates (as the rates API lists them), and unpriced items on a
// card that lacks a price.

const T0 = 1_759_276_800 // 2025-10-01
const DAY = 86_400
const GIB = 2 ** 30
const at = new Date(T0 * 1000).toISOString()
const day = { start_time: T0, end_time: T0 + DAY }

/** Canonical counters → stored class, the mapping written out here (not imported from src). */
const TOKEN_FIELDS = { input_uncached_tokens: 'in_text', input_cached_tokens: 'cached_text', input_cache_write_tokens: 'cache_write', input_cache_write_1h_tokens: 'cache_write_1h', output_tokens: 'out_text' } as const
const LINE = { in_text: 'input', cached_text: 'cached input', cache_write: 'cache write', cache_write_1h: 'cache write 1h', out_text: 'output' } as const
const tok = (o: Partial<Record<keyof typeof TOKEN_FIELDS, number>>) => ({ input_uncached_tokens: 0, input_cached_tokens: 0, input_cache_write_tokens: 0, input_cache_write_1h_tokens: 0, output_tokens: 0, ...o })
interface Dims { start_time: number; end_time: number; provider: string; project_id: string; model: string | null; context_tier?: string }
const BUCKETS: (Dims & Record<keyof typeof TOKEN_FIELDS, number>)[] = [
  { ...day, provider: 'openai', project_id: 'proj_a', model: 'gpt-5-mini-2025-08-07', ...tok({ input_uncached_tokens: 1_000_001, input_cached_tokens: 20_003, output_tokens: 300_007 }) },
  { ...day, provider: 'anthropic', project_id: 'proj_a', model: 'claude-sonnet-4-5-20250929', context_tier: '0-200k', ...tok({ input_uncached_tokens: 150_011, input_cached_tokens: 9_013, input_cache_write_tokens: 5_017, input_cache_write_1h_tokens: 7_019, output_tokens: 4_021 }) },
  { ...day, provider: 'anthropic', project_id: 'proj_a', model: 'claude-sonnet-4-5-20250929', context_tier: '200k-1M', ...tok({ input_uncached_tokens: 900_023, input_cached_tokens: 1_029, input_cache_write_tokens: 2_031, input_cache_write_1h_tokens: 3_037, output_tokens: 8_039 }) },
]
const RESOURCES: (Dims & { resource: string; quantity: number; attributes: Record<string, string> })[] = [
  { ...day, provider: 'openai', project_id: 'proj_a', model: 'dall-e-2', resource: 'images', quantity: 3, attributes: { size: '1024x1024' } },
  { ...day, provider: 'openai', project_id: 'proj_a', model: 'dall-e-3', resource: 'images', quantity: 1, attributes: { size: '1024x1024' } },
  { ...day, provider: 'openai', project_id: 'proj_a', model: 'gpt-5-mini-2025-08-07', resource: 'web_search_calls', quantity: 10, attributes: { context_level: 'medium' } },
  { ...day, provider: 'anthropic', project_id: 'proj_a', model: 'claude-sonnet-4-5-20250929', context_tier: '0-200k', resource: 'web_search_calls', quantity: 4, attributes: {} },
  { ...day, provider: 'openai', project_id: 'proj_b', model: null, resource: 'storage_bytes', quantity: GIB + 12_345, attributes: {} },
]
const UNITS: Record<string, string> = { images: 'images', storage_bytes: 'gibibyte_hours', web_search_calls: 'web_search_calls' }

type Expected = Map<string, { quantity: Decimal; cost: Decimal | null; unit: string }>

/** The line items the contract describes, computed row by row with the oracle's rate choice. */
function expectedItems(rates: TestRate[]): Expected {
  const out: Expected = new Map()
  const add = (name: string, unit: string, q: Decimal.Value, cost: Decimal | null) => {
    const prev = out.get(name) ?? { quantity: new Decimal(0), cost: cost === null ? null : new Decimal(0), unit }
    out.set(name, { unit, quantity: prev.quantity.plus(q), cost: cost === null ? null : prev.cost!.plus(cost) })
  }
  for (const b of BUCKETS) {
    const rate = pickRate({ provider: b.provider, model: b.model, contextTier: b.context_tier ?? null }, rates)
    for (const [field, cls] of Object.entries(TOKEN_FIELDS) as [keyof typeof TOKEN_FIELDS, keyof typeof LINE][]) {
      const n = b[field]
      if (!n) continue
      const price = rate?.prices[CLASS_PRICES[cls]]
      if (price === undefined) add(`${b.model}, unpriced`, 'tokens', n, null)
      else add(`${b.model}, ${LINE[cls]}`, 'tokens', n, new Decimal(n).times(price).times('0.000001'))
    }
  }
  for (const r of RESOURCES) {
    const row: OracleRow = { provider: r.provider, model: r.model, contextTier: r.context_tier ?? null, resource: r.resource, attributes: r.attributes, quantity: String(r.quantity), seconds: DAY }
    const c = costOf([row], rates)
    const name = r.model ? `${r.model}, ${r.resource}` : r.resource
    const q = c.quantity.get(r.resource)!
    if (c.unpriced.size) add(`${name}, unpriced`, UNITS[r.resource]!, q, null)
    else add(name, UNITS[r.resource]!, q, c.total)
  }
  return out
}

interface Item { line_item: string | null; project_id: string | null; amount: { value: number | null; value_exact: string | null }; quantity: number | null; quantity_exact: string | null; quantity_unit: string | null; complete: boolean }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { tenantId, key } = await tenantWithKey(app, ['ingest', 'read'])
  const posted = await postBuckets(app, key, { buckets: BUCKETS, resources: RESOURCES })
  t.equal(posted.statusCode, 200, posted.body)
  const rates = [] as TestRate[]
  for (const provider of ['openai', 'anthropic']) {
    const res = await app.inject({ method: 'GET', url: `/v1/rate-cards/default/rates?provider=${provider}&at=${at}`, headers: bearer(key) })
    rates.push(...(res.json().data as TestRate[]))
  }
  const items = async (query: string) => {
    const res = await app.inject({ method: 'GET', url: `/v1/organization/costs?start_time=${T0}&end_time=${T0 + DAY}&${query}`, headers: bearer(key) })
    t.equal(res.statusCode, 200, res.body)
    return (res.json().data as { results: Item[] }[]).flatMap((b) => b.results)
  }

  t.test('line items of the whole bill equal the independent computation', async (t) => {
    const want = expectedItems(rates)
    const got = await items('group_by=line_item')
    t.same(got.map((i) => i.line_item).sort(), [...want.keys()].sort(), 'the same line items')
    for (const i of got) {
      const w = want.get(i.line_item!)!
      t.equal(i.quantity_exact, w.quantity.toFixed(), `${i.line_item} quantity`)
      t.equal(i.quantity, w.quantity.toNumber())
      t.equal(i.quantity_unit, w.unit, `${i.line_item} unit`)
      t.equal(i.amount.value_exact, w.cost === null ? null : w.cost.toFixed(), `${i.line_item} amount`)
      t.equal(i.complete, w.cost !== null)
    }
    for (const n of ['claude-sonnet-4-5-20250929, cache write 1h', 'claude-sonnet-4-5-20250929, web_search_calls', 'storage_bytes', 'dall-e-3, images, unpriced'])
      t.ok(want.has(n), `expects "${n}"`)
    t.equal(want.get('storage_bytes')!.quantity.toFixed(), new Decimal(GIB + 12_345).times(DAY).div(GIB * 3600).toDecimalPlaces(18, Decimal.ROUND_HALF_EVEN).toFixed())

    const sum = got.reduce((a, i) => a.plus(i.amount.value_exact ?? 0), new Decimal(0))
    const gql = await app.inject({
      method: 'POST', url: '/graphql', headers: bearer(key),
      payload: { query: `{ usage(from: "${at}", to: "${new Date((T0 + DAY) * 1000).toISOString()}", window: TOTAL, groupBy: [PROVIDER, MODEL, RESOURCE]) { totals { cost { total complete } } } }` },
    })
    t.same(gql.json().data.usage.totals.cost, { total: sum.toFixed(), complete: false }, 'GraphQL agrees; dall-e-3 makes it incomplete')
  })

  t.test('without line items: one result per project, quantity null where units mix', async (t) => {
    const got = await items('group_by=project_id')
    const a = got.find((i) => i.project_id === 'proj_a')!
    const b = got.find((i) => i.project_id === 'proj_b')!
    t.match(a, { quantity: null, quantity_exact: null, quantity_unit: null, complete: false })
    t.match(b, { quantity_unit: 'gibibyte_hours', complete: true })
    const want = expectedItems(rates)
    t.equal(b.quantity_exact, want.get('storage_bytes')!.quantity.toFixed())
    const all = [...want.values()].reduce((s, w) => s.plus(w.cost ?? 0), new Decimal(0))
    t.ok(new Decimal(a.amount.value_exact!).plus(b.amount.value_exact!).equals(all))
  })

  t.test('a card without a price for a resource lists it unpriced, value null', async (t) => {
    await createTestCard(app, tenantId, 'tokens-only', [{ provider: 'openai', model: 'gpt-5-mini*', prices: { input: '0.25', cached_input: '0.025', output: '2' } }])
    const got = await items('group_by=line_item&rate_card=tokens-only')
    t.match(got.find((i) => i.line_item === 'dall-e-2, images, unpriced'), { amount: { value: null, value_exact: null }, quantity: 3, quantity_unit: 'images', complete: false })
    t.match(got.find((i) => i.line_item === 'storage_bytes, unpriced'), { amount: { value: null }, quantity_unit: 'gibibyte_hours' })
    t.notOk(got.some((i) => i.line_item === 'dall-e-2, images'), 'never $0')
  })

  t.test('the official openai SDK reads the resource line items', async (t) => {
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as AddressInfo
    const client = new OpenAI({ apiKey: 'unused', adminAPIKey: key, baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 })
    const p = await client.admin.organization.usage.costs({ start_time: T0, end_time: T0 + DAY, group_by: ['line_item'] })
    const results = p.data[0]!.results as { line_item?: string | null; quantity_unit?: string | null }[]
    t.match(results.find((r) => r.line_item === 'dall-e-2, images'), { quantity_unit: 'images' })
    t.match(results.find((r) => r.line_item === 'claude-sonnet-4-5-20250929, cache write 1h'), { quantity_unit: 'tokens' })
  })
})
