import { parse } from 'csv-parse/sync'
import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// The completions CSV export is re-ingestable (contract: "CSV uses the export's columns, so it can be
// re-ingested"). It wrote `input_cache_write_tokens` (5-minute writes) but not the 1-hour writes that
// `input_tokens` includes, so a row of Anthropic usage with 1-hour writes did not add up: the JSON page
// carried `input_cache_write_1h_tokens`, the CSV did not, and POSTing the file back was a 400.

const DAY = 1_759_276_800 // 2025-10-01
const BUCKET = {
  start_time: DAY, end_time: DAY + 3600, provider: 'anthropic', model: 'claude-sonnet-4-5-20250929', num_model_requests: 2,
  input_tokens: 3000, input_cached_tokens: 500, input_cache_write_tokens: 700, input_cache_write_1h_tokens: 800, output_tokens: 10,
}
const URL = `/v1/organization/usage/completions?start_time=${DAY}&end_time=${DAY + 86_400}&group_by=model`
const TOTALS = `{ usage(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z") {
  totals { requests inputTokens outputTokens cachedInputTokens uncachedInputTokens cacheWriteTokens cacheWrite1hTokens cost { total complete unpricedTokens } } } }`

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const source = await tenantWithKey(app)
  const copy = await tenantWithKey(app)
  t.equal((await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(source.key), payload: { buckets: [BUCKET] } })).statusCode, 200)

  t.test('the CSV carries the 1-hour cache writes of the JSON page', async (t) => {
    const json = (await app.inject({ method: 'GET', url: URL, headers: bearer(source.key) })).json() as { data: { results: Record<string, unknown>[] }[] }
    const csv = await app.inject({ method: 'GET', url: URL, headers: { ...bearer(source.key), accept: 'text/csv' } })
    t.equal(csv.statusCode, 200)
    const [row] = parse(csv.body, { columns: true }) as Record<string, string>[]
    const result = json.data[0]!.results[0]!
    t.equal(result.input_cache_write_1h_tokens, 800)
    for (const name of ['input_tokens', 'input_cached_tokens', 'input_uncached_tokens', 'input_cache_write_tokens', 'input_cache_write_1h_tokens'])
      t.equal(row?.[name], String(result[name]), name)
  })

  t.test('POSTing the export back stores the same usage', async (t) => {
    const csv = await app.inject({ method: 'GET', url: URL, headers: { ...bearer(source.key), accept: 'text/csv' } })
    const back = await app.inject({
      method: 'POST', url: '/v1/usage/buckets?provider=anthropic', headers: { ...bearer(copy.key), 'content-type': 'text/csv' }, payload: csv.body,
    })
    t.equal(back.statusCode, 200, back.body)
    const totals = async (key: string) =>
      ((await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query: TOTALS } })).json() as { data: { usage: { totals: unknown } } }).data.usage.totals
    t.same(await totals(copy.key), await totals(source.key))
  })
})
