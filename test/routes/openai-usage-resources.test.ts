import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { Decimal } from 'decimal.js'
import OpenAI from 'openai'
import t from 'tap'
import { postBuckets } from '../factories/buckets.js'
import { costOf, text, unpricedList, type OracleRow, type TestRate } from '../factories/resources.js'
import { bearer, build, eachEngine, fixturePath, tenantWithKey } from '../helpers.js'

// The resource mirrors at OpenAI's paths, priced by the default card: each result against the
// decimal.js oracle fed the card's rates as the rates API lists them. Fixtures first (null models,
// unpriced), then rows with models and attributes, the filters the SDK sends, and the SDK itself.

const DAY = 86_400
const T0 = 1_759_276_800 // 2025-10-01
const GIB = 2 ** 30
const FIXTURES = ['images', 'audio_speeches', 'audio_transcriptions', 'vector_stores', 'code_interpreter_sessions', 'file_search_calls', 'web_search_calls']

interface Cost { value: number; value_exact: string; complete: boolean; unpriced_quantity: { resource: string; quantity: string }[] }
type Result = Record<string, unknown> & { object: string; cost: Cost }
interface Page { data: { start_time: number; end_time: number; results: Result[] }[]; has_more: boolean }

interface Seed {
  start_time: number; end_time: number; provider: string; account_id: string; project_id: string; user_id: null; api_key_id: null
  model: string | null; resource: string; quantity: number | string; attributes: Record<string, string>
}
const r = (start: number, secs: number, o: Partial<Seed> & Pick<Seed, 'resource' | 'quantity'>): Seed => ({
  start_time: start, end_time: start + secs, provider: 'openai', account_id: 'acct_a', project_id: 'proj_a', user_id: null, api_key_id: null, model: null, attributes: {}, ...o,
})
const RESOURCES = [
  r(T0, DAY, { model: 'dall-e-2', resource: 'images', quantity: 3, attributes: { size: '1024x1024', source: 'image.generation' } }),
  r(T0, DAY, { model: 'dall-e-2', resource: 'images', quantity: 2, attributes: { size: '256x256', source: 'image.edit' } }),
  r(T0, DAY, { model: 'dall-e-3', resource: 'images', quantity: 1, attributes: { size: '1024x1024', source: 'image.generation' } }),
  r(T0, DAY, { model: 'tts-1', resource: 'characters', quantity: 12_345 }),
  r(T0, DAY, { model: 'whisper-1', resource: 'audio_seconds', quantity: '120.5' }),
  r(T0, 3600, { resource: 'storage_bytes', quantity: GIB }),
  r(T0 + 3600, 3600, { resource: 'storage_bytes', quantity: 3 * GIB + 7 }),
  // Another account: a daily gauge beside hourly ones of the same account would overlap (report shapes).
  r(T0, DAY, { account_id: 'acct_b', project_id: 'proj_b', resource: 'storage_bytes', quantity: 5_000 }),
  r(T0, DAY, { resource: 'code_interpreter_sessions', quantity: 4 }),
  r(T0, DAY, { resource: 'file_search_calls', quantity: 5, attributes: { vector_store_id: 'vs_1' } }),
  r(T0, DAY, { resource: 'file_search_calls', quantity: 7, attributes: { vector_store_id: 'vs_2' } }),
  r(T0, DAY, { model: 'gpt-5-mini', resource: 'web_search_calls', quantity: 10, attributes: { context_level: 'medium' } }),
  r(T0, DAY, { model: 'gpt-4o', resource: 'web_search_calls', quantity: 3, attributes: { context_level: 'low' } }),
]
const oracleRow = (s: Seed): OracleRow => ({
  provider: 'openai', model: s.model, resource: s.resource, attributes: s.attributes,
  quantity: String(s.quantity), seconds: s.end_time - s.start_time,
})

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  for (const name of FIXTURES) {
    const path = fixturePath(t, `openai/openai_usage_${name}_example.json`)
    if (path) t.equal((await postBuckets(app, key, readFileSync(path, 'utf8'))).statusCode, 200, name)
  }
  const posted = await postBuckets(app, key, { resources: RESOURCES })
  t.equal(posted.statusCode, 200, posted.body)
  const ratesRes = await app.inject({ method: 'GET', url: `/v1/rate-cards/default/rates?provider=openai&at=${new Date(T0 * 1000).toISOString()}`, headers: bearer(key) })
  const rates = ratesRes.json().data as TestRate[]
  const get = async (path: string, query: string) => {
    const res = await app.inject({ method: 'GET', url: `/v1/organization/usage/${path}?start_time=${T0}&end_time=${T0 + DAY}&${query}`, headers: bearer(key) })
    t.equal(res.statusCode, 200, res.body)
    return (res.json() as Page).data.flatMap((b) => b.results)
  }
  const expectCost = (t: Tap, got: Cost, seeds: Seed[]) => {
    const want = costOf(seeds.map(oracleRow), rates)
    t.equal(got.value_exact, text(want.total), 'cost = the oracle')
    t.same(got.unpriced_quantity, unpricedList(want))
    t.equal(got.complete, want.unpriced.size === 0)
  }
  type Tap = typeof t

  t.test('every fixture page reads back at its endpoint, unpriced (no model), never $0', async (t) => {
    const start = 1_730_419_200
    for (const [path, field, qty] of [['images', 'images', 2], ['audio_speeches', 'characters', 45], ['audio_transcriptions', 'seconds', 20], ['code_interpreter_sessions', 'num_sessions', 1], ['file_search_calls', 'num_requests', 2], ['web_search_calls', 'num_requests', 2]] as const) {
      const res = await app.inject({ method: 'GET', url: `/v1/organization/usage/${path}?start_time=${start}&end_time=${start + DAY}`, headers: bearer(key) })
      const [one] = (res.json() as Page).data[0]!.results
      t.equal(one?.[field], qty, path)
      if (path === 'code_interpreter_sessions' || path === 'file_search_calls') t.equal(one?.cost.complete, true, `${path}: priced on *`)
      else t.match(one?.cost, { value_exact: '0', complete: false }, `${path}: unpriced`)
    }
    const vs = await app.inject({ method: 'GET', url: `/v1/organization/usage/vector_stores?start_time=${start}&end_time=${start + DAY}`, headers: bearer(key) })
    t.match((vs.json() as Page).data[0]!.results, [{ object: 'organization.usage.vector_stores.result', usage_bytes: 1024, cost: { complete: true } }])
  })

  t.test('images: by size and source, filtered by sizes and image sources, dall-e-3 unpriced', async (t) => {
    const images = RESOURCES.filter((s) => s.resource === 'images')
    const grouped = await get('images', 'group_by=model,size,source')
    t.equal(grouped.length, 3)
    for (const g of grouped) {
      const seed = images.filter((s) => s.model === g.model && s.attributes.size === g.size && s.attributes.source === g.source)
      t.equal(g.images, seed[0]!.quantity)
      t.match(g, { object: 'organization.usage.images.result', project_id: null, num_model_requests: null })
      expectCost(t, g.cost, seed)
    }
    const big = await get('images', 'sizes[]=1024x1024')
    t.equal(big.length, 1)
    t.match(big[0], { images: 4, size: null, model: null })
    expectCost(t, big[0]!.cost, images.filter((s) => s.attributes.size === '1024x1024'))
    const edits = await get('images', 'sources=image.edit&sources=api&group_by=source')
    t.match(edits, [{ images: 2, source: 'image.edit' }])
    t.same(await get('images', 'sources=image.edit&sources=openai_api'), [], 'usage sources still select: these rows are canonical (`api`)')
    t.same(await get('images', 'sources=image.variation'), [])
  })

  t.test('speech characters, transcription seconds, sessions, file and web searches', async (t) => {
    for (const [path, resource, field] of [['audio_speeches', 'characters', 'characters'], ['audio_transcriptions', 'audio_seconds', 'seconds'], ['code_interpreter_sessions', 'code_interpreter_sessions', 'num_sessions']] as const) {
      const [one, ...rest] = await get(path, 'group_by=project_id')
      const seeds = RESOURCES.filter((s) => s.resource === resource)
      t.equal(rest.length, 0)
      t.equal(one![field], Number(seeds[0]!.quantity), path)
      expectCost(t, one!.cost, seeds)
    }
    const fs = await get('file_search_calls', 'group_by=vector_store_id&vector_store_ids=vs_2')
    t.match(fs, [{ object: 'organization.usage.file_searches.result', num_requests: 7, vector_store_id: 'vs_2' }])
    expectCost(t, fs[0]!.cost, RESOURCES.filter((s) => s.attributes.vector_store_id === 'vs_2'))
    const ws = await get('web_search_calls', 'group_by=model&group_by=context_level')
    t.equal(ws.length, 2)
    for (const w of ws) expectCost(t, w.cost, RESOURCES.filter((s) => s.resource === 'web_search_calls' && s.model === w.model))
    t.match(await get('web_search_calls', 'context_levels=low'), [{ num_requests: 3, model: null, cost: { complete: false } }])
  })

  t.test('vector stores: the time-weighted mean over each window, floored; priced per GiB-day', async (t) => {
    const days = await get('vector_stores', 'group_by=project_id')
    const a = days.find((x) => x.project_id === 'proj_a')!
    t.equal(a.usage_bytes, Math.floor((GIB * 3600 + (3 * GIB + 7) * 3600) / DAY))
    expectCost(t, a.cost, RESOURCES.filter((s) => s.resource === 'storage_bytes' && s.project_id === 'proj_a'))
    t.equal(days.find((x) => x.project_id === 'proj_b')!.usage_bytes, 5_000)
    const hours = await app.inject({ method: 'GET', url: `/v1/organization/usage/vector_stores?start_time=${T0}&end_time=${T0 + 3 * 3600}&bucket_width=1h&project_ids=proj_a`, headers: bearer(key) })
    t.same((hours.json() as Page).data.map((b) => b.results.map((x) => x.usage_bytes)), [[GIB], [3 * GIB + 7], []])
    t.ok(new Decimal(a.cost.value_exact).gt(0))
  })

  t.test('the official openai SDK reads every resource endpoint by base-URL swap', async (t) => {
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as AddressInfo
    const usage = new OpenAI({ apiKey: 'unused', adminAPIKey: key, baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 }).admin.organization.usage
    const q = { start_time: T0, end_time: T0 + DAY }
    const first = (p: { data: { results: unknown[] }[] }) => p.data[0]!.results as Record<string, unknown>[]
    t.match(first(await usage.images({ ...q, sizes: ['256x256'], sources: ['image.edit'], group_by: ['size'] })), [{ images: 2, size: '256x256' }])
    t.match(first(await usage.audioSpeeches({ ...q, models: ['tts-1'] })), [{ characters: 12_345 }])
    t.match(first(await usage.audioTranscriptions({ ...q, group_by: ['model'] })), [{ seconds: 120.5, model: 'whisper-1' }])
    t.match(first(await usage.vectorStores({ ...q, project_ids: ['proj_b'] })), [{ usage_bytes: 5_000 }])
    t.match(first(await usage.codeInterpreterSessions({ ...q, group_by: ['project_id'] })), [{ num_sessions: 4, project_id: 'proj_a' }])
    t.match(first(await usage.fileSearchCalls({ ...q, vector_store_ids: ['vs_1', 'vs_2'] })), [{ num_requests: 12 }])
    t.match(first(await usage.webSearchCalls({ ...q, context_levels: ['medium'], models: ['gpt-5-mini'] })), [{ num_requests: 10, cost: { complete: true } }])
  })
})
