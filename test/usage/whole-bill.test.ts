import { Decimal } from 'decimal.js'
import t from 'tap'
import { queryUsagePage } from '../../src/usage/usage-service.js'
import { postBuckets } from '../factories/buckets.js'
import {
  apiRow,
  CLASS_PRICES,
  costOf,
  createTestCard,
  expectedByProviderModelResource,
  expectedRow,
  gql,
  pickRate,
  rowKey,
  USAGE_PMR,
  type ApiRow,
  type ClassName,
  type OracleRow,
  type TestRate,
} from '../factories/resources.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// The "Done when" tenant: OpenAI tokens + images + storage + web search, and Anthropic tokens
// with both cache-write durations and a long-context day — ingested through the public endpoint,
// read through `usage(groupBy: [PROVIDER, MODEL, RESOURCE])`, equal to the decimal.js oracle; a card
// without one of the prices reports that resource unpriced and complete: false.

const DAY = 86_400
const D1 = Date.parse('2026-02-02T00:00:00Z') / 1000
const span = (start: number, seconds: number) => ({ start_time: start, end_time: start + seconds })

const openaiBuckets = [{ ...span(D1, DAY), model: 'gpt-5-2025-08-07', input_tokens: 120_000, input_cached_tokens: 20_000, output_tokens: 30_000, num_model_requests: 40 }]
const openaiResources = [
  { ...span(D1, DAY), model: 'gpt-image-1', resource: 'images', quantity: 7, attributes: { size: '1024x1024', source: 'image.generation' } },
  { ...span(D1, DAY), model: 'gpt-image-1', resource: 'images', quantity: '3', attributes: { size: '256x256', source: 'image.edit' } },
  { ...span(D1, DAY), model: null, resource: 'storage_bytes', quantity: '3221225472' },
  // An odd length and byte count: its GiB-hours and cost are rounded half-even at 18 places.
  { ...span(D1 + DAY, 7 * 3600 + 13 * 60 + 7), model: null, resource: 'storage_bytes', quantity: '5000000001' },
  { ...span(D1, DAY), model: 'gpt-4o-search-preview', resource: 'web_search_calls', quantity: 12, attributes: { context_level: 'medium' } },
]
const anthropicPage = {
  data: [
    {
      starting_at: '2026-02-02T00:00:00Z',
      ending_at: '2026-02-03T00:00:00Z',
      results: [
        {
          model: 'claude-sonnet-4-5-20250929', service_tier: 'standard', context_window: '0-200k', uncached_input_tokens: 41_000,
          cache_creation: { ephemeral_5m_input_tokens: 9_000, ephemeral_1h_input_tokens: 13_000 }, cache_read_input_tokens: 250_000,
          output_tokens: 17_000, server_tool_use: { web_search_requests: 6 }, workspace_id: null, api_key_id: null,
        },
      ],
    },
    {
      starting_at: '2026-02-03T00:00:00Z',
      ending_at: '2026-02-04T00:00:00Z',
      results: [
        {
          model: 'claude-sonnet-4-5-20250929', service_tier: 'standard', context_window: '200k-1M', uncached_input_tokens: 600_000,
          cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 210_000 }, cache_read_input_tokens: 0,
          output_tokens: 9_000, server_tool_use: { web_search_requests: 0 }, workspace_id: null, api_key_id: null,
        },
      ],
    },
  ],
  has_more: false,
  next_page: null,
}

/** The oracle's reading of the same data (written from the contract's mapping, not from the code). */
const ORACLE_ROWS: OracleRow[] = [
  { provider: 'openai', model: 'gpt-5-2025-08-07', classes: { in_text: 100_000, cached_text: 20_000, out_text: 30_000 } },
  { provider: 'openai', model: 'gpt-image-1', resource: 'images', quantity: '7', attributes: { size: '1024x1024', source: 'image.generation' } },
  { provider: 'openai', model: 'gpt-image-1', resource: 'images', quantity: '3', attributes: { size: '256x256', source: 'image.edit' } },
  { provider: 'openai', model: null, resource: 'storage_bytes', quantity: '3221225472', seconds: DAY },
  { provider: 'openai', model: null, resource: 'storage_bytes', quantity: '5000000001', seconds: 7 * 3600 + 13 * 60 + 7 },
  { provider: 'openai', model: 'gpt-4o-search-preview', resource: 'web_search_calls', quantity: '12', attributes: { context_level: 'medium' } },
  {
    provider: 'anthropic', model: 'claude-sonnet-4-5-20250929', contextTier: '0-200k',
    classes: { in_text: 41_000, cache_write: 9_000, cache_write_1h: 13_000, cached_text: 250_000, out_text: 17_000 },
  },
  { provider: 'anthropic', model: 'claude-sonnet-4-5-20250929', contextTier: '0-200k', resource: 'web_search_calls', quantity: '6', attributes: {} },
  { provider: 'anthropic', model: 'claude-sonnet-4-5-20250929', contextTier: '200k-1M', classes: { in_text: 600_000, cache_write_1h: 210_000, out_text: 9_000 } },
  { provider: 'anthropic', model: 'claude-sonnet-4-5-20250929', contextTier: '200k-1M', resource: 'web_search_calls', quantity: '0', attributes: {} },
]

const WEB_SEARCH = [{ resource: 'web_search_calls', price: '0.01' }, { resource: 'web_search_calls', attributes: { context_level: 'medium' }, price: '0.0275' }]
function rates(withWebSearch: boolean): TestRate[] {
  return [
    { provider: 'openai', model: 'gpt-5-2025-08-07', prices: { input: '1.25', cached_input: '0.125', output: '10' } },
    {
      provider: 'openai',
      model: '*',
      prices: {},
      unit_prices: [
        { resource: 'images', price: '0.04' },
        { resource: 'images', attributes: { size: '1024x1024' }, price: '0.19' },
        { resource: 'images', attributes: { size: '1024x1024', source: 'image.generation' }, price: '0.167' },
        { resource: 'storage_bytes', price: '0.1' },
        ...(withWebSearch ? WEB_SEARCH : []),
      ],
    },
    // Untiered usage of this model would be unpriced: the null-tier rate prices nothing.
    { provider: 'anthropic', model: 'claude-sonnet-4-5*', prices: {} },
    {
      provider: 'anthropic', model: 'claude-sonnet-4-5*', context_tier: '0-200k',
      prices: { input: '3', cached_input: '0.3', cache_write: '3.75', cache_write_1h: '6', output: '15' },
      unit_prices: [{ resource: 'web_search_calls', price: '0.01' }],
    },
    {
      provider: 'anthropic', model: 'claude-sonnet-4-5*', context_tier: '200k-1M',
      prices: { input: '6', cached_input: '0.6', cache_write: '7.5', cache_write_1h: '12', output: '22.5' },
      unit_prices: [{ resource: 'web_search_calls', price: '0.01' }],
    },
  ]
}

/** The contract's line-item name of each token class ("REST mirrors, extended"), written here, not imported. */
const LINE_NAMES: Record<ClassName, string> = {
  in_text: 'input', in_audio: 'input audio', in_image: 'input image', cached_text: 'cached input', cached_audio: 'cached input audio',
  cached_image: 'cached input image', cache_write: 'cache write', cache_write_1h: 'cache write 1h', out_text: 'output',
  out_audio: 'output audio', out_image: 'output image',
}
const D = Decimal.clone({ precision: 200 })
interface Item { amount: string | null; quantity: string; unit: string }

function addItem(items: Map<string, Item>, name: string, amount: string | null, quantity: string, unit: string) {
  const prev = items.get(name)
  if (!prev) return void items.set(name, { amount, quantity, unit })
  prev.amount = prev.amount === null || amount === null ? null : new D(prev.amount).plus(amount).toFixed()
  prev.quantity = new D(prev.quantity).plus(quantity).toFixed()
}

/**
 * The oracle's line items over the whole range (summed across days): each priced token class is
 * `"<model>, <class>"`, tokens no rate prices `"<model>, unpriced"` (no amount); a resource is
 * `"<model>, <resource>"` (the resource alone without a model), its unpriced quantity `"…, unpriced"`.
 */
function expectedLineItems(rows: readonly OracleRow[], rs: readonly TestRate[]): Map<string, Item> {
  const items = new Map<string, Item>()
  for (const row of rows) {
    if (row.classes) {
      const rate = pickRate(row, rs)
      for (const [cls, n] of Object.entries(row.classes) as [ClassName, number][]) {
        if (!n) continue
        const price = rate?.prices[CLASS_PRICES[cls]]
        if (price === undefined) addItem(items, `${row.model}, unpriced`, null, String(n), 'tokens')
        else addItem(items, `${row.model}, ${LINE_NAMES[cls]}`, new D(n).times(price).times('0.000001').toFixed(), String(n), 'tokens')
      }
      continue
    }
    const resource = row.resource!
    const name = row.model === null ? resource : `${row.model}, ${resource}`
    const unit = resource === 'storage_bytes' ? 'gibibyte_hours' : resource
    const c = costOf([row], rs)
    const qty = (c.quantity.get(resource) ?? new D(0)).toFixed()
    if (c.unpriced.size) addItem(items, `${name}, unpriced`, null, qty, unit)
    else addItem(items, name, c.total.toFixed(), qty, unit)
  }
  return items
}

interface CostsPage { data: { results: { line_item: string; amount: { value_exact: string | null }; quantity_exact: string; quantity_unit: string }[] }[]; has_more: boolean; next_page: string | null }

/** Every page of the costs mirror by line item, summed per line item across the days. */
async function costsLineItems(app: Awaited<ReturnType<typeof build>>, key: string, card: string): Promise<{ items: Map<string, Item>; pages: number }> {
  const items = new Map<string, Item>()
  const base = `/v1/organization/costs?group_by=line_item&bucket_width=1d&rate_card=${card}&start_time=${RANGE.from}&end_time=${RANGE.to}`
  let cursor: string | null = null
  let pages = 0
  do {
    const res: { statusCode: number; body: string } = await app.inject({ method: 'GET', url: cursor ? `${base}&page=${encodeURIComponent(cursor)}` : base, headers: bearer(key) })
    if (res.statusCode !== 200) throw new Error(`costs ${res.statusCode}: ${res.body}`)
    const page = JSON.parse(res.body) as CostsPage
    for (const b of page.data) for (const r of b.results) addItem(items, r.line_item, r.amount.value_exact, r.quantity_exact, r.quantity_unit)
    cursor = page.has_more ? page.next_page : null
    if (++pages > 10) throw new Error('costs: more than 10 pages')
  } while (cursor)
  return { items, pages }
}

/** Drops line items with nothing in them (a reported zero, e.g. a day without web searches). */
const nonEmpty = (items: Map<string, Item>) =>
  Object.fromEntries([...items].filter(([, i]) => !new D(i.quantity).isZero() || (i.amount !== null && !new D(i.amount).isZero())))

const RANGE = { from: '2026-02-01T00:00:00Z', to: '2026-02-10T00:00:00Z' }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app)
  t.equal((await postBuckets(app, key, { buckets: openaiBuckets, resources: openaiResources })).statusCode, 200)
  const anthropic = await app.inject({ method: 'POST', url: '/v1/usage/buckets?account_id=org_anthropic', headers: { authorization: `Bearer ${key}` }, payload: anthropicPage })
  t.equal(anthropic.statusCode, 200, anthropic.body)

  for (const priced of [true, false])
    t.test(priced ? 'the whole bill equals the independent computation' : 'a card without the web-search prices reports them unpriced, complete: false', async (t) => {
      const card = `${priced ? 'full' : 'partial'}-${tenantId}`
      const rs = rates(priced)
      await createTestCard(app, tenantId, card, rs)
      const { usage } = await gql<{ usage: { rows: ApiRow[]; totals: ApiRow } }>(app, key, USAGE_PMR, { ...RANGE, card })
      const expected = expectedByProviderModelResource(ORACLE_ROWS, rs)
      t.same(Object.fromEntries(usage.rows.map((r) => [rowKey(r), apiRow(r)])), expected, 'every (provider, model, resource) row')
      const { quantity: _q, ...totals } = expectedRow(costOf(ORACLE_ROWS, rs), null)
      const { quantity: _a, ...got } = apiRow({ ...usage.totals, provider: null, model: null, resource: null, quantity: null })
      t.same(got, totals, 'the totals')
      if (priced) {
        t.equal(usage.totals.cost.complete, true)
        t.not(usage.totals.cost.resources, '0')
      } else {
        t.equal(usage.totals.cost.complete, false)
        const search = usage.rows.find((r) => r.resource === 'web_search_calls' && r.provider === 'openai')!
        t.same(search.cost.unpricedQuantity, [{ resource: 'web_search_calls', quantity: '12' }], 'unpriced, never $0')
        t.equal(search.cost.complete, false)
      }

      // The same tenant through the costs mirror: every line item over the whole range, and the total.
      const { items, pages } = await costsLineItems(app, key, card)
      t.equal(pages, 2, 'nine days at the default 7 per page: two pages read')
      t.same(nonEmpty(items), nonEmpty(expectedLineItems(ORACLE_ROWS, rs)), 'GET /v1/organization/costs?group_by=line_item, every line item')
      const sum = (m: Map<string, Item>) => [...m.values()].reduce((a, i) => (i.amount === null ? a : a.plus(i.amount)), new D(0)).toFixed()
      t.equal(sum(items), costOf(ORACLE_ROWS, rs).total.toFixed(), 'the costs mirror total equals the oracle total')
      t.equal(sum(items), usage.totals.cost.total, 'and GraphQL usage')
      if (!priced) t.same(items.get('gpt-4o-search-preview, web_search_calls, unpriced'), { amount: null, quantity: '12', unit: 'web_search_calls' }, 'unpriced there too, no amount')
      else t.notOk([...items.keys()].some((k) => k.endsWith('unpriced')), 'nothing unpriced with the full card')
    })

  t.test('the query layer gives storage its exact byte-seconds beside the rounded GiB-hours', async (t) => {
    const page = await queryUsagePage(
      app.testDb,
      {
        tenantId, from: new Date(RANGE.from), to: new Date(RANGE.to), window: 'TOTAL', timeZone: 'UTC', groupBy: ['RESOURCE'],
        groupByLabels: [], filter: { resources: ['storage_bytes'] }, rateCard: `full-${tenantId}`, first: 10,
      },
      { maxGroups: 1000 },
    )
    const seconds = 7 * 3600 + 13 * 60 + 7
    t.equal(page.rows[0]!.storageByteSeconds, (3221225472n * BigInt(DAY) + 5000000001n * BigInt(seconds)).toString())
    t.equal(page.rows[0]!.quantity, expectedRow(costOf(ORACLE_ROWS.filter((r) => r.resource === 'storage_bytes'), []), 'storage_bytes').quantity)
  })
})
