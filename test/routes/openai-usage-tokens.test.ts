import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { findProvider } from '@pydantic/genai-prices'
import { Decimal } from 'decimal.js'
import OpenAI from 'openai'
import t from 'tap'
import { postBuckets } from '../factories/buckets.js'
import { bearer, build, eachEngine, fixturePath, tenantWithKey } from '../helpers.js'

// The embeddings and moderations mirrors at OpenAI's paths: input tokens of their usage type only,
// priced by the default card (catalog prices read directly here), read by the official SDK too.

const DAY = 86_400
const T0 = 1_730_419_200 // 2024-11-01, the fixtures' day
const M = new Decimal('0.000001')
const embeddingPrice = (findProvider({ providerId: 'openai' })!.models.find((m) => m.id === 'text-embedding-3-small')!.prices as Record<string, number>).input_mtok!

interface Result { object: string; input_tokens: number; num_model_requests: number | null; model: string | null; project_id: string | null; cost: { value: number; value_exact: string; complete: boolean; unpriced_tokens: number } }
interface Page { object: string; data: { start_time: number; end_time: number; results: Result[] }[]; has_more: boolean; next_page: string | null }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const day = (d: number) => ({ start_time: T0 + d * DAY, end_time: T0 + (d + 1) * DAY })
  const buckets = [
    { ...day(1), model: 'text-embedding-3-small', project_id: 'proj_a', usage_type: 'embeddings', input_tokens: 1_234_567, num_model_requests: 40 },
    { ...day(1), model: 'text-embedding-3-small', project_id: 'proj_b', usage_type: 'embeddings', input_tokens: 1_000, num_model_requests: 1 },
    { ...day(2), model: 'omni-moderation-latest', project_id: 'proj_a', usage_type: 'moderations', input_tokens: 5_000, num_model_requests: 9 },
    { ...day(1), model: 'gpt-5-mini', project_id: 'proj_a', input_tokens: 100, output_tokens: 10, num_model_requests: 1 },
  ]
  t.equal((await postBuckets(app, key, { buckets })).statusCode, 200)
  for (const name of ['embeddings', 'moderations']) {
    const path = fixturePath(t, `openai/openai_usage_${name}_example.json`)
    if (path) t.equal((await postBuckets(app, key, readFileSync(path, 'utf8'), 'application/json', '?account_id=fixture')).statusCode, 200, name)
  }
  const get = async (url: string) => {
    const res = await app.inject({ method: 'GET', url, headers: bearer(key) })
    t.equal(res.statusCode, 200, res.body)
    return res.json() as Page
  }

  t.test('embeddings: its own usage type, grouped and filtered like OpenAI, priced from the catalog', async (t) => {
    const p = await get(`/v1/organization/usage/embeddings?start_time=${T0}&end_time=${T0 + 3 * DAY}&group_by[]=model&group_by[]=project_id`)
    t.same(p.data.map((b) => b.start_time), [T0, T0 + DAY, T0 + 2 * DAY], 'empty days are listed')
    t.same(p.data[0]!.results.map((r) => [r.model, r.input_tokens, r.cost.complete]), [[null, 16, false]], 'the fixture has no model: unpriced')
    const day1 = p.data[1]!.results
    t.equal(day1.length, 2)
    for (const r of day1) {
      const b = buckets.find((x) => x.project_id === r.project_id && 'usage_type' in x && x.usage_type === 'embeddings')!
      t.match(r, { object: 'organization.usage.embeddings.result', model: 'text-embedding-3-small', input_tokens: b.input_tokens, num_model_requests: b.num_model_requests })
      t.equal(r.cost.value_exact, new Decimal(b.input_tokens).times(embeddingPrice).times(M).toFixed())
      t.equal(r.cost.value, Number(r.cost.value_exact))
    }
    const filtered = await get(`/v1/organization/usage/embeddings?start_time=${T0}&end_time=${T0 + 3 * DAY}&project_ids=proj_b&models=text-embedding-3-small`)
    t.same(filtered.data.flatMap((b) => b.results).map((r) => [r.input_tokens, r.project_id, r.model]), [[1_000, null, null]])
  })

  t.test('moderations are free on the default card; completions no longer count either', async (t) => {
    const p = await get(`/v1/organization/usage/moderations?start_time=${T0 + 2 * DAY}&end_time=${T0 + 3 * DAY}&group_by=model`)
    t.match(p.data[0]!.results, [{ object: 'organization.usage.moderations.result', model: 'omni-moderation-latest', input_tokens: 5_000, cost: { value_exact: '0', complete: true } }])
    const c = await get(`/v1/organization/usage/completions?start_time=${T0}&end_time=${T0 + 3 * DAY}`)
    t.same(c.data.flatMap((b) => b.results).map((r) => r.input_tokens), [100], 'completions only')
  })

  t.test('bad parameters name each problem', async (t) => {
    const res = await app.inject({ method: 'GET', url: `/v1/organization/usage/embeddings?start_time=x&group_by=batch&bucket_width=2d`, headers: bearer(key) })
    t.equal(res.statusCode, 400)
    t.same((res.json().errors as { path: string }[]).map((e) => e.path.replace(/\.\d+$/, '')).sort(), ['querystring.bucket_width', 'querystring.group_by', 'querystring.start_time'])
  })

  t.test('the official openai SDK reads both by base-URL swap', async (t) => {
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as AddressInfo
    const client = new OpenAI({ apiKey: 'unused', adminAPIKey: key, baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 })
    const usage = client.admin.organization.usage
    const e = await usage.embeddings({ start_time: T0 + DAY, end_time: T0 + 2 * DAY, group_by: ['project_id'], project_ids: ['proj_a'] })
    t.match(e.data[0]!.results, [{ object: 'organization.usage.embeddings.result', input_tokens: 1_234_567, project_id: 'proj_a' }])
    const m = await usage.moderations({ start_time: T0 + 2 * DAY, end_time: T0 + 3 * DAY, models: ['omni-moderation-latest'] })
    t.match(m.data[0]!.results, [{ object: 'organization.usage.moderations.result', input_tokens: 5_000 }])
  })
})
