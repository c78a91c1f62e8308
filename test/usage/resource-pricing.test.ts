import { readdirSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import t, { type Test } from 'tap'
import { postBuckets } from '../factories/buckets.js'
import {
  apiRow,
  createTestCard,
  expectedByProviderModelResource,
  expectedRow,
  costOf,
  gql,
  rowKey,
  USAGE_PMR,
  type ApiRow,
  type OracleRow,
  type TestRate,
} from '../factories/resources.js'
import { build, eachEngine, FIXTURES, fixturePath, tenantWithKey } from '../helpers.js'

// Every OpenAI usage page fixture and both Anthropic usage reports, ingested and priced by a test rate
// card with token and unit prices; each compared, row by row, with the independent decimal.js oracle
// (test/factories/resources.ts) applied to the fixture's own numbers under the contract's mapping.

const OPENAI_RATES: TestRate[] = [
  {
    provider: 'openai',
    model: '*',
    prices: { input: '1.25', output: '10' },
    unit_prices: [
      { resource: 'images', price: '0.04' },
      { resource: 'images', attributes: { size: '1024x1024' }, price: '0.08' },
      { resource: 'characters', price: '0.000015' },
      { resource: 'audio_seconds', price: '0.0001' },
      { resource: 'storage_bytes', price: '0.1' },
      { resource: 'code_interpreter_sessions', price: '0.03' },
      { resource: 'file_search_calls', price: '0.0025' },
      { resource: 'web_search_calls', price: '0.01' },
    ],
  },
]

const ANTHROPIC_RATES: TestRate[] = [
  // The tier-specific rate must win over the any-tier one; the geo-specific over the any-geo one.
  { provider: 'anthropic', model: 'claude-sonnet-4*', prices: { input: '99', output: '99' } },
  {
    provider: 'anthropic',
    model: 'claude-sonnet-4*',
    context_tier: '0-200k',
    prices: { input: '3', cached_input: '0.3', cache_write: '3.75', cache_write_1h: '6', output: '15' },
    unit_prices: [{ resource: 'web_search_calls', price: '0.01' }],
  },
  { provider: 'anthropic', model: 'claude-opus-5', prices: { input: '77' }, unit_prices: [{ resource: 'web_search_calls', price: '9' }] },
  {
    provider: 'anthropic',
    model: 'claude-opus-5',
    inference_geo: 'global',
    prices: { input: '5', cached_input: '0.5', cache_write: '6.25', cache_write_1h: '10', output: '25' },
    unit_prices: [{ resource: 'web_search_calls', price: '0.012' }],
  },
]

type Result = Record<string, unknown>
const str = (v: unknown) => (typeof v === 'string' ? v : null)

/** The test's own reading of an OpenAI usage result (contract v2 "Usage types, resources"). */
function openaiRow(r: Result, seconds: number): OracleRow {
  const base = { provider: 'openai', model: str(r.model) }
  const kind = /^organization\.usage\.(\w+)\.result$/.exec(String(r.object))![1]!
  const attrs = (...keys: string[]) => Object.fromEntries(keys.flatMap((k) => (typeof r[k] === 'string' ? [[k, r[k] as string]] : [])))
  const resource = (name: string, field: string, attributes: Record<string, string> = {}): OracleRow => ({
    ...base,
    resource: name,
    quantity: String(r[field]),
    attributes,
    seconds,
  })
  switch (kind) {
    case 'completions':
    case 'embeddings':
    case 'moderations':
      // These fixtures report no model: their tokens are unpriced whatever the breakdown, so only the
      // totals matter to the oracle (tokens count on input or output).
      return { ...base, classes: { in_text: Number(r.input_tokens ?? 0), out_text: Number(r.output_tokens ?? 0) } }
    case 'images':
      return resource('images', 'images', attrs('size', 'source'))
    case 'audio_speeches':
      return resource('characters', 'characters')
    case 'audio_transcriptions':
      return resource('audio_seconds', 'seconds')
    case 'vector_stores':
      return resource('storage_bytes', 'usage_bytes')
    case 'code_interpreter_sessions':
      return resource('code_interpreter_sessions', 'num_sessions')
    case 'file_searches':
      return resource('file_search_calls', 'num_requests', attrs('vector_store_id'))
    case 'web_searches':
      return resource('web_search_calls', 'num_requests', attrs('context_level'))
  }
  throw new Error(`unexpected object ${String(r.object)}`)
}

/** The test's own reading of an Anthropic usage-report result (contract v2 "Anthropic usage reports"). */
function anthropicRows(r: Result): OracleRow[] {
  const cc = (r.cache_creation ?? {}) as Record<string, number>
  const base = { provider: 'anthropic', model: str(r.model), contextTier: str(r.context_window), inferenceGeo: str(r.inference_geo) }
  const rows: OracleRow[] = [
    {
      ...base,
      classes: {
        in_text: Number(r.uncached_input_tokens ?? 0),
        cached_text: Number(r.cache_read_input_tokens ?? 0),
        cache_write: Number(cc.ephemeral_5m_input_tokens ?? 0),
        cache_write_1h: Number(cc.ephemeral_1h_input_tokens ?? 0),
        out_text: Number(r.output_tokens ?? 0),
      },
    },
  ]
  const searches = (r.server_tool_use as Record<string, number> | undefined)?.web_search_requests
  if (searches !== undefined && searches !== null) rows.push({ ...base, resource: 'web_search_calls', quantity: String(searches), attributes: {} })
  return rows
}

interface Page {
  data: { start_time?: number; end_time?: number; starting_at?: string; ending_at?: string; results: Result[] }[]
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)

  async function check(t: Test, body: Page, rates: TestRate[], oracleRows: OracleRow[], from: string, to: string) {
    const { key, tenantId } = await tenantWithKey(app)
    const card = `card-${tenantId}`
    await createTestCard(app, tenantId, card, rates)
    const res = await postBuckets(app, key, body)
    t.equal(res.statusCode, 200, res.body)
    const { usage } = await gql<{ usage: { rows: ApiRow[]; totals: ApiRow } }>(app, key, USAGE_PMR, { from, to, card })
    const expected = expectedByProviderModelResource(oracleRows, rates)
    t.same(Object.fromEntries(usage.rows.map((r) => [rowKey(r), apiRow(r)])), expected, 'every row equals the oracle')
    const { quantity: _q, ...totals } = expectedRow(costOf(oracleRows, rates), null)
    const { quantity: _a, ...gotTotals } = apiRow({ ...usage.totals, provider: null, model: null, resource: null, quantity: null })
    t.same(gotTotals, totals, 'the totals equal the oracle')
  }

  const pages = readdirSync(`${FIXTURES}openai`).filter((f) => /^openai_usage_.*_example.*\.json$/.test(f))
  for (const file of pages)
    t.test(`OpenAI ${file} is priced to the token and the decimal`, async (t) => {
      const path = fixturePath(t, `openai/${file}`)
      if (!path) return
      const body = JSON.parse(await readFile(path, 'utf8')) as Page
      if (!Array.isArray(body.data)) return t.pass('not a page (a single result object)')
      const rows = body.data.flatMap((b) => b.results.map((r) => openaiRow(r, b.end_time! - b.start_time!)))
      const from = Math.min(...body.data.map((b) => b.start_time!))
      const to = Math.max(...body.data.map((b) => b.end_time!))
      await check(t, body, OPENAI_RATES, rows, String(from), String(to))
    })

  for (const file of ['anthropic_usage_report_messages_example.json', 'anthropic_usage_report_messages_example_2026.json'])
    t.test(`Anthropic ${file} is priced to the token and the decimal`, async (t) => {
      const path = fixturePath(t, `anthropic/${file}`)
      if (!path) return
      const body = JSON.parse(await readFile(path, 'utf8')) as Page
      const rows = body.data.flatMap((b) => b.results.flatMap(anthropicRows))
      t.ok(rows.some((r) => r.classes?.cache_write_1h), 'the fixture has 1-hour cache writes')
      const from = body.data.map((b) => b.starting_at!).sort()[0]!
      const to = body.data.map((b) => b.ending_at!).sort().at(-1)!
      await check(t, body, ANTHROPIC_RATES, rows, from, to)
    })
})
