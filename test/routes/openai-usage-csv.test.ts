import { parse } from 'csv-parse/sync'
import { Decimal } from 'decimal.js'
import t from 'tap'
import { postBuckets, rowCount } from '../factories/buckets.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// `Accept: text/csv` on the nine newer usage mirrors: each JSON result is one CSV row with the same
// fields (cost exact, the resource it reads), the CSV's totals equal the JSON's, and an empty bucket
// is one row of blank fields as the export writes it.

const DAY = 86_400
const T0 = 1_759_276_800 // 2025-10-01
const GIB = 2 ** 30

const res = (start: number, secs: number, o: Record<string, unknown>) => ({
  start_time: start, end_time: start + secs, provider: 'openai', account_id: 'acct_a', project_id: 'proj_a', user_id: null, api_key_id: null, model: null, attributes: {}, ...o,
})
const RESOURCES = [
  res(T0, DAY, { model: 'dall-e-2', resource: 'images', quantity: 3, attributes: { size: '1024x1024', source: 'image.generation' } }),
  res(T0, DAY, { model: 'dall-e-3', resource: 'images', quantity: 1, attributes: { size: '1024x1024', source: 'image.edit' } }),
  res(T0, DAY, { model: 'tts-1', resource: 'characters', quantity: 12_345, project_id: 'proj_b' }),
  res(T0, DAY, { model: 'whisper-1', resource: 'audio_seconds', quantity: '120.5' }),
  res(T0, 3600, { resource: 'storage_bytes', quantity: GIB }),
  res(T0 + 3600, 3600, { resource: 'storage_bytes', quantity: 3 * GIB + 7 }),
  res(T0, DAY, { resource: 'code_interpreter_sessions', quantity: 4 }),
  res(T0, DAY, { resource: 'file_search_calls', quantity: 5, attributes: { vector_store_id: 'vs_1' } }),
  res(T0, DAY, { resource: 'file_search_calls', quantity: 7, attributes: { vector_store_id: 'vs_2' } }),
  res(T0, DAY, { model: 'gpt-5-mini', resource: 'web_search_calls', quantity: 10, attributes: { context_level: 'medium' } }),
  res(T0, DAY, { model: 'gpt-4o', resource: 'web_search_calls', quantity: 3, attributes: { context_level: 'low' } }),
]
const BUCKETS = [
  { start_time: T0, end_time: T0 + DAY, model: 'text-embedding-3-small', project_id: 'proj_a', usage_type: 'embeddings', input_tokens: 1_234_567, num_model_requests: 40 },
  { start_time: T0, end_time: T0 + DAY, model: 'my-embedder', project_id: 'proj_b', usage_type: 'embeddings', input_tokens: 1_000, num_model_requests: 1 },
  { start_time: T0, end_time: T0 + DAY, model: 'omni-moderation-latest', project_id: 'proj_a', usage_type: 'moderations', input_tokens: 5_000, num_model_requests: 9 },
]

// endpoint, the group_by asked, its quantity field, the resource column (null: a token endpoint)
const ENDPOINTS = [
  ['embeddings', 'group_by=model&group_by=project_id', 'input_tokens', null],
  ['moderations', 'group_by=model', 'input_tokens', null],
  ['images', 'group_by=model&group_by=size&group_by=source', 'images', 'images'],
  ['audio_speeches', 'group_by=project_id&group_by=model', 'characters', 'characters'],
  ['audio_transcriptions', 'group_by=model', 'seconds', 'audio_seconds'],
  ['vector_stores', 'group_by=project_id', 'usage_bytes', 'storage_bytes'],
  ['code_interpreter_sessions', 'group_by=project_id', 'num_sessions', 'code_interpreter_sessions'],
  ['file_search_calls', 'group_by=vector_store_id', 'num_requests', 'file_search_calls'],
  ['web_search_calls', 'group_by=model&group_by=context_level', 'num_requests', 'web_search_calls'],
] as const

type Result = Record<string, unknown> & { cost: { value_exact: string; currency: string; complete: boolean; unpriced_tokens: number; unpriced_quantity?: { resource: string; quantity: string }[] } }
interface Page { data: { start_time: number; end_time: number; results: Result[] }[] }

const cellOf = (v: unknown) => (v === null || v === undefined ? '' : String(v))
const sum = (xs: string[]) => xs.reduce((a, x) => a.plus(x || 0), new Decimal(0)).toFixed()

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  t.equal((await postBuckets(app, key, { resources: RESOURCES })).statusCode, 200)
  t.equal((await postBuckets(app, key, { buckets: BUCKETS })).statusCode, 200)

  for (const [path, groupBy, quantity, resource] of ENDPOINTS) {
    t.test(`${path}: the CSV holds the JSON results, totals equal`, async (t) => {
      // Two days: the second is empty.
      const url = `/v1/organization/usage/${path}?start_time=${T0}&end_time=${T0 + 2 * DAY}&${groupBy}`
      const json = await app.inject({ method: 'GET', url, headers: bearer(key) })
      t.equal(json.statusCode, 200, json.body)
      const buckets = (json.json() as Page).data
      const csv = await app.inject({ method: 'GET', url, headers: { ...bearer(key), accept: 'text/csv' } })
      t.equal(csv.statusCode, 200, csv.body)
      t.match(csv.headers['content-type'], /^text\/csv/)
      t.equal(csv.headers['content-disposition'], `attachment; filename="${path}_usage.csv"`)
      const rows = parse(csv.body, { columns: true }) as Record<string, string>[]
      const header = Object.keys(rows[0]!)
      t.same(header.slice(0, 4), ['start_time', 'end_time', 'start_time_iso', 'end_time_iso'])
      // The token endpoints' files end with their usage type, provider and account, so that they re-ingest as
      // they are (usage-csv-usage-type.test.ts, usage-csv-export-provider-account.test.ts).
      const usageType = ['embeddings', 'moderations'].includes(path) ? path : null
      t.same(header.slice(header.indexOf('cost_value')), ['cost_value', 'cost_currency', 'cost_complete', 'unpriced_tokens', ...(resource ? ['unpriced_quantity'] : []), ...(usageType ? ['usage_type', 'provider', 'account_id'] : [])])
      t.equal(header.includes('resource'), resource !== null, 'a resource column where the endpoint reads a resource')

      const results = buckets.flatMap((b) => b.results.map((r) => ({ b, r })))
      t.ok(results.length > 0, 'the seeds answer')
      // Every JSON result as the CSV row it must be: its own fields, cost exact, the resource (blank = null).
      const want = [
        ...results.map(({ b, r }) => {
          const { cost, object: _object, ...fields } = r
          const cells: Record<string, string> = { start_time: String(b.start_time), end_time: String(b.end_time) }
          for (const [k, v] of Object.entries(fields)) cells[k] = cellOf(v)
          Object.assign(cells, { cost_value: cost.value_exact, cost_currency: cost.currency, cost_complete: String(cost.complete), unpriced_tokens: String(cost.unpriced_tokens) })
          if (cost.unpriced_quantity) cells.unpriced_quantity = cost.unpriced_quantity.map((u) => `${u.resource}:${u.quantity}`).join(';')
          if (resource) cells.resource = resource
          if (usageType) Object.assign(cells, { usage_type: usageType, provider: 'openai' })
          return cells
        }),
        ...buckets.filter((b) => !b.results.length).map((b) => ({ start_time: String(b.start_time), end_time: String(b.end_time) })),
      ]
      const got = rows.map((row) => Object.fromEntries(Object.entries(row).filter(([k]) => !k.endsWith('_iso'))))
      const rowKey = (x: Record<string, string>) => JSON.stringify(Object.entries(x).filter(([, v]) => v !== '').sort())
      t.same(got.map(rowKey).sort(), want.map(rowKey).sort(), 'one row per result, the same values')
      t.equal(rows.length, results.length + buckets.filter((b) => !b.results.length).length)
      t.equal(sum(rows.map((r) => r.cost_value!)), sum(results.map(({ r }) => r.cost.value_exact)), 'cost total')
      t.equal(sum(rows.map((r) => r[quantity]!)), sum(results.map(({ r }) => String(r[quantity]))), 'quantity total')
      t.same(rows.filter((r) => r.start_time === String(T0 + DAY)).map((r) => r.cost_value), [''], 'the empty day is one blank row')
      t.equal(rows[0]!.start_time_iso, '2025-10-01T00:00:00+00:00')

      // Posted back: a token export re-ingests (usage-csv-usage-type.test.ts); a resource export has no CSV
      // ingest and says so, where it was read as token rows without tokens (200, every row skipped).
      const { key: other, tenantId } = await tenantWithKey(app, ['ingest', 'read'])
      const back = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: { ...bearer(other), 'content-type': 'text/csv' }, payload: csv.body })
      if (resource) {
        t.equal(back.statusCode, 400, back.body)
        t.match(back.json(), { errors: [{ path: 'resource', message: /resource usage export .* has no CSV ingest/ }] })
        t.equal(await rowCount(app, tenantId), 0, 'nothing written')
      } else {
        t.equal(back.statusCode, 200, back.body)
        t.match(back.json(), { skipped: 1 }, 'the empty day')
      }
    })
  }

  t.test('Accept picks CSV only when text/csv is acceptable and not below JSON', async (t) => {
    // Any mention of text/csv used to answer CSV, also `text/csv;q=0` ("not acceptable").
    const cases: [string, 'csv' | 'json'][] = [
      ['text/csv', 'csv'],
      ['text/csv; charset=utf-8', 'csv'],
      ['application/json, text/csv', 'csv'],
      ['text/csv, */*;q=0.1', 'csv'],
      ['text/csv;q=0', 'json'],
      ['application/json, text/csv;q=0.1', 'json'],
      ['text/csv;q=0.5, */*', 'json'],
      ['*/*', 'json'],
    ]
    for (const path of [`/v1/organization/usage/images?start_time=${T0}&end_time=${T0 + DAY}`, `/v1/organization/costs?start_time=${T0}&end_time=${T0 + DAY}`, '/v1/reconciliation?from=2025-10-01T00:00:00Z&to=2025-10-02T00:00:00Z'])
      for (const [accept, want] of cases) {
        const r = await app.inject({ method: 'GET', url: path, headers: { ...bearer(key), accept } })
        t.equal(r.statusCode, 200, r.body)
        t.match(r.headers['content-type'], want === 'csv' ? /^text\/csv/ : /^application\/json/, `${path.split('?')[0]} Accept: ${accept} → ${want}`)
      }
  })

  t.test('a bad parameter is still a 400 problem, not a broken stream', async (t) => {
    const r = await app.inject({ method: 'GET', url: `/v1/organization/usage/images?start_time=${T0}&bucket_width=1w`, headers: { ...bearer(key), accept: 'text/csv' } })
    t.equal(r.statusCode, 400)
    t.match(r.headers['content-type'], /problem\+json/)
  })
})
