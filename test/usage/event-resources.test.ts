import t from 'tap'
import {
  apiRow,
  COST_FIELDS,
  costOf,
  createTestCard,
  expectedRow,
  gql,
  type ApiRow,
  type OracleRow,
  type TestRate,
} from '../factories/resources.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// Events may carry `resources` beside or instead of token counters: they are stored with the event,
// counted by `usage` (source events) and priced like resource rows; a raw Anthropic usage maps both
// cache-write durations (and its web searches). Bad resources reject that event, naming every problem.

const RATES: TestRate[] = [
  {
    provider: 'openai',
    model: 'gpt-image-1',
    prices: { input: '5', output: '40' },
    unit_prices: [
      { resource: 'images', price: '0.04' },
      { resource: 'images', attributes: { size: '1024x1024' }, price: '0.167' },
    ],
  },
  { provider: 'openai', model: '*', prices: {}, unit_prices: [{ resource: 'web_search_calls', price: '0.01' }] },
  {
    provider: 'anthropic',
    model: 'claude-sonnet-4-5',
    prices: { input: '3', cached_input: '0.3', cache_write: '3.75', cache_write_1h: '6', output: '15' },
    unit_prices: [{ resource: 'web_search_calls', price: '0.01' }],
  },
]

const TS = '2026-03-01T10:15:00Z'
const RANGE = { from: '2026-03-01T00:00:00Z', to: '2026-03-02T00:00:00Z' }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app)
  const card = `card-${tenantId}`
  await createTestCard(app, tenantId, card, RATES)
  const post = async (events: unknown[]) => {
    const res = await app.inject({ method: 'POST', url: '/v1/usage/events', headers: bearer(key), payload: { events } })
    t.equal(res.statusCode, 200, res.body)
    return (res.json() as { results: { id: string; status: string; errors?: { path: string; message: string }[] }[] }).results
  }

  const anthropicUsage = {
    input_tokens: 1200,
    cache_creation_input_tokens: 900,
    cache_read_input_tokens: 4000,
    output_tokens: 350,
    cache_creation: { ephemeral_5m_input_tokens: 300, ephemeral_1h_input_tokens: 600 },
    server_tool_use: { web_search_requests: 4 },
  }
  const events = [
    { id: 'img-1', timestamp: TS, model: 'gpt-image-1', input_tokens: 50, output_tokens: 0, resources: [{ resource: 'images', quantity: 2, attributes: { size: '1024x1024' } }] },
    { id: 'img-2', timestamp: TS, model: 'gpt-image-1', resources: [{ resource: 'images', quantity: '3' }, { resource: 'images', quantity: '1', attributes: { size: '512x512' } }] },
    { id: 'search', timestamp: TS, model: 'gpt-4o-search', resources: [{ resource: 'web_search_calls', quantity: 5, attributes: { context_level: 'low' } }] },
    { id: 'anth', timestamp: TS, model: 'claude-sonnet-4-5', provider: 'anthropic', usage: anthropicUsage },
  ]
  const oracle: OracleRow[] = [
    { provider: 'openai', model: 'gpt-image-1', classes: { in_text: 50 } },
    { provider: 'openai', model: 'gpt-image-1', resource: 'images', quantity: '2', attributes: { size: '1024x1024' } },
    { provider: 'openai', model: 'gpt-image-1', resource: 'images', quantity: '3', attributes: {} },
    { provider: 'openai', model: 'gpt-image-1', resource: 'images', quantity: '1', attributes: { size: '512x512' } },
    { provider: 'openai', model: 'gpt-4o-search', resource: 'web_search_calls', quantity: '5', attributes: { context_level: 'low' } },
    { provider: 'anthropic', model: 'claude-sonnet-4-5', classes: { in_text: 1200, cached_text: 4000, cache_write: 300, cache_write_1h: 600, out_text: 350 } },
    { provider: 'anthropic', model: 'claude-sonnet-4-5', resource: 'web_search_calls', quantity: '4', attributes: {} },
  ]

  t.test('events with resources are stored, counted and priced like resource rows', async (t) => {
    t.same((await post(events)).map((r) => r.status), ['created', 'created', 'created', 'created'])
    t.same((await post(events)).map((r) => r.status), ['duplicate', 'duplicate', 'duplicate', 'duplicate'], 're-posting changes nothing')
    const changed = await post([{ ...events[1], resources: [{ resource: 'images', quantity: '4' }] }])
    t.equal(changed[0]!.status, 'rejected', 'the same id with other resources is never counted twice')

    const { usage } = await gql<{ usage: { rows: (ApiRow & { requests: number | null })[]; totals: ApiRow } }>(
      app,
    key,
      `query($from: DateTime!, $to: DateTime!, $card: String!) {
        usage(from: $from, to: $to, window: TOTAL, groupBy: [RESOURCE], rateCard: $card, filter: { sources: ["events"] }) {
          rows { provider model resource quantity requests inputTokens outputTokens cost { ${COST_FIELDS} } }
          totals { inputTokens outputTokens cost { ${COST_FIELDS} } }
        }
      }`,
      { ...RANGE, card },
    )
    const byResource = (r: string) => oracle.filter((o) => (o.resource ?? 'tokens') === r)
    t.same(
      Object.fromEntries(usage.rows.map((r) => [r.resource, apiRow(r)])),
      Object.fromEntries(['images', 'tokens', 'web_search_calls'].map((r) => [r, expectedRow(costOf(byResource(r), RATES), r)])),
    )
    t.same(usage.rows.find((r) => r.resource === 'tokens')!.requests, 4, 'requests count the events (token rows) only')
    const { quantity: _q, ...totals } = expectedRow(costOf(oracle, RATES), null)
    const { quantity: _a, ...got } = apiRow({ ...usage.totals, provider: null, model: null, resource: null, quantity: null })
    t.same(got, totals)
  })

  t.test('the events listing prices each event with its resources', async (t) => {
    const { events: page } = await gql<{ events: { rows: { id: string; cost: ApiRow['cost']; resources: unknown[] }[] } }>(
      app,
      key,
      `query($card: String!) { events(period: ALL, rateCard: $card, orderBy: COST_DESC) { rows { id resources { resource quantity attributes { key value } } cost { ${COST_FIELDS} } } } }`,
      { card },
    )
    t.same(page.rows.find((r) => r.id === 'img-2')!.resources, [
      { resource: 'images', quantity: '3', attributes: [] },
      { resource: 'images', quantity: '1', attributes: [{ key: 'size', value: '512x512' }] },
    ], 'an event lists its resources as sent')
    const { events: searches } = await gql<{ events: { rows: { id: string }[] } }>(
      app,
      key,
      `query($card: String!) { events(period: ALL, rateCard: $card, filter: { resources: ["web_search_calls"] }) { rows { id } } }`,
      { card },
    )
    t.same(searches.rows.map((r) => r.id).sort(), ['anth', 'search'], 'filter.resources lists the events carrying them')
    const expected = (id: string, rows: OracleRow[]) => {
      const { quantity: _q, tokens: _t, ...c } = expectedRow(costOf(rows, RATES), null)
      return [id, c]
    }
    const got = Object.fromEntries(page.rows.map((r) => [r.id, { ...r.cost, cacheWrite: undefined, input: undefined, cachedInput: undefined, output: undefined }]))
    for (const [id, c] of [
      expected('img-1', oracle.slice(0, 2)),
      expected('img-2', oracle.slice(2, 4)),
      expected('search', oracle.slice(4, 5)),
      expected('anth', oracle.slice(5, 7)),
    ] as [string, object][])
      t.match(got[id], c, id)
  })

  t.test('MODALITY keeps 1-hour cache writes on the text row (not 0)', async (t) => {
    const { usage } = await gql<{ usage: { rows: { modality: string | null; resource: string | null; cacheWriteTokens: number; cacheWrite1hTokens: number }[] } }>(
      app,
      key,
      `query($from: DateTime!, $to: DateTime!) {
        usage(from: $from, to: $to, window: TOTAL, groupBy: [MODALITY], filter: { sources: ["events"], providers: ["anthropic"], resources: ["tokens"] }) {
          rows { modality resource cacheWriteTokens cacheWrite1hTokens }
        }
      }`,
      RANGE,
    )
    t.same(usage.rows, [{ modality: 'text', resource: null, cacheWriteTokens: 900, cacheWrite1hTokens: 600 }])
  })

  t.test('bad resources reject that event naming every problem; the others stand', async (t) => {
    const out = await post([
      {
        id: 'bad',
        timestamp: TS,
        model: 'gpt-image-1',
        resources: [
          { resource: 'images', quantity: -1 },
          { resource: 'images', quantity: 'ten' },
          { quantity: 1 },
          { resource: 'tokens', quantity: 1 },
          { resource: 'images', quantity: 1, attributes: { size: 1024 } },
          { resource: 'images', quantity: 1, colour: 'red' },
          { resource: 'storage_bytes', quantity: 1024 },
        ],
      },
      { id: 'good', timestamp: TS, model: 'gpt-image-1', resources: [{ resource: 'images', quantity: '0.5' }] },
    ])
    t.equal(out[0]!.status, 'rejected')
    t.match(out[0]!.errors, [
      { path: 'resources.0.quantity', message: /≥ 0/ },
      { path: 'resources.1.quantity' },
      { path: 'resources.2.resource' },
      { path: 'resources.3.resource', message: /reserved/ },
      { path: 'resources.4.attributes', message: /not a string/ },
      { path: 'resources.5.colour' },
      { path: 'resources.6.resource', message: /gauge/ },
    ])
    t.equal(out[1]!.status, 'created')
    const rows = await app.testDb.query<{ event_id: string; quantity: string }>(
      `select event_id, quantity::text as quantity from usage_event_resources where tenant_id = $1 and event_id in ('bad', 'good')`,
      [tenantId],
    )
    t.same(rows, [{ event_id: 'good', quantity: '0.5' }])
  })
})
