import t from 'tap'
import type { z } from 'zod'
import { CostsPageSchema, UsagePageSchema } from '../../src/routes/openai-usage/schemas.js'
import { pageSchema } from '../../src/routes/openai-usage/resource-schemas.js'
import { TOKEN_ENDPOINTS, tokenPageSchema } from '../../src/routes/openai-usage/token-usage.js'
import { RESOURCE_ENDPOINTS } from '../../src/usage/report/resource-endpoints.js'
import { postBuckets } from '../factories/buckets.js'
import { DAY_S, ensureDefaultCard, MIRROR_RATES, mirrorDataset, RECORDED, T0 } from '../factories/mirrors.js'
import { seedBuckets, seedCard } from '../factories/usage.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// A JSON page of the REST mirrors is written bucket by bucket from the results the report builds, without
// running them through the response schema (docs/rest-mirrors.md "Read ahead"). So every page of every
// mirror, read page by page (the first statement's and the read-ahead rows' pages), must be exactly what
// the schema makes of it: each field the schema has, none it has not, in the schema's order, of its type.

interface Page {
  next_page: string | null
  data: { results: unknown[] }[]
}

const GIB = 2 ** 30
const resource = (day: number, o: Record<string, unknown>) => ({
  start_time: T0 + day * DAY_S, end_time: T0 + (day + 1) * DAY_S, provider: 'openai', account_id: 'acct_a', project_id: 'proj_a',
  user_id: day % 2 ? 'u1' : null, api_key_id: null, model: null, attributes: {}, ...o,
})
const RESOURCES = [
  resource(0, { model: 'dall-e-2', resource: 'images', quantity: 3, attributes: { size: '1024x1024', source: 'image.generation' } }),
  resource(1, { model: 'dall-e-3', resource: 'images', quantity: 1, attributes: { size: '256x256', source: 'image.edit' } }),
  resource(0, { model: 'tts-1', resource: 'characters', quantity: 12_345 }),
  resource(2, { model: 'whisper-1', resource: 'audio_seconds', quantity: '120.5' }),
  resource(3, { resource: 'storage_bytes', quantity: 3 * GIB + 7 }),
  resource(0, { resource: 'code_interpreter_sessions', quantity: 4 }),
  resource(1, { resource: 'file_search_calls', quantity: 5, attributes: { vector_store_id: 'vs_1' } }),
  // No rate for this model's searches: an unpriced quantity.
  resource(2, { model: 'gpt-4o', resource: 'web_search_calls', quantity: 3, attributes: { context_level: 'low' } }),
  resource(9, { model: 'unknown-model', resource: 'web_search_calls', quantity: 2, attributes: { context_level: 'high' } }),
]

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { tenantId, key } = await tenantWithKey(app, ['ingest', 'read'])
  await ensureDefaultCard(app.testDb)
  const card = `card-${tenantId}`
  await seedCard(app.testDb, card, MIRROR_RATES.map((r) => ({ ...r, recordedAt: RECORDED })), tenantId)
  const tokens = mirrorDataset(31, 120)
  // Some of them embeddings and moderations, some with a context tier and geo (the completions extensions).
  await seedBuckets(app.testDb, tenantId, tokens.map((b, i) => ({
    ...b,
    ...(i % 7 === 3 ? { usageType: 'embeddings' } : i % 7 === 5 ? { usageType: 'moderations' } : {}),
    ...(i % 5 === 1 ? { contextTier: '0-200k', inferenceGeo: 'us' } : {}),
  })))
  const posted = await postBuckets(app, key, { resources: RESOURCES })
  t.equal(posted.statusCode, 200, posted.body)

  /** Every page from `first`, following next_page; each checked against `schema`. Returns the result count. */
  const pages = async (path: string, params: string, schema: z.ZodType, cardName = card) => {
    const first = `${path}?start_time=${T0}&end_time=${T0 + 12 * DAY_S}&limit=2&rate_card=${cardName}${params}`
    let url = first
    let [count, results] = [0, 0]
    for (; count < 20; count++) {
      const res = await app.inject({ method: 'GET', url, headers: bearer(key) })
      if (res.statusCode !== 200) return t.fail(`${url}: ${res.statusCode} ${res.body.slice(0, 300)}`)
      const body = JSON.parse(res.body) as Page
      const canonical = JSON.stringify(schema.parse(body))
      if (canonical !== res.body) {
        const at = [...canonical].findIndex((c, i) => c !== res.body[i])
        return t.fail(`${url}: the page differs from its schema's serialization at ${at}: …${res.body.slice(Math.max(0, at - 80), at + 80)}… schema: …${canonical.slice(Math.max(0, at - 80), at + 80)}…`)
      }
      results += body.data.reduce((n, b) => n + b.results.length, 0)
      if (!body.next_page) break
      url = `${first}&page=${body.next_page}`
    }
    t.ok(count > 1 && results > 0, `${path}${params}: ${count + 1} pages, ${results} results, each exactly its schema's serialization`)
  }

  t.test('completions, every group_by and none', async () => {
    await pages('/v1/organization/usage/completions', '', UsagePageSchema)
    await pages('/v1/organization/usage/completions', '&group_by=model,project_id', UsagePageSchema)
    await pages('/v1/organization/usage/completions', '&group_by=project_id,user_id,api_key_id,model,batch,service_tier,context_tier,inference_geo', UsagePageSchema)
    await pages('/v1/usage', '&group_by=model', UsagePageSchema)
  })

  t.test('costs, by line item, project and key, and none', async () => {
    await pages('/v1/organization/costs', '', CostsPageSchema)
    await pages('/v1/organization/costs', '&group_by=line_item', CostsPageSchema)
    await pages('/v1/organization/costs', '&group_by=line_item,project_id,api_key_id', CostsPageSchema)
    // The default card prices the resources too (and leaves some unpriced).
    await pages('/v1/organization/costs', '&group_by=line_item,project_id', CostsPageSchema, 'default')
  })

  t.test('embeddings and moderations', async () => {
    for (const e of TOKEN_ENDPOINTS) {
      await pages(`/v1/organization/usage/${e.path}`, '', tokenPageSchema(e))
      await pages(`/v1/organization/usage/${e.path}`, '&group_by=project_id,user_id,api_key_id,model', tokenPageSchema(e))
    }
  })

  t.test('every resource endpoint, by all its fields and none', async () => {
    for (const e of RESOURCE_ENDPOINTS) {
      await pages(`/v1/organization/usage/${e.path}`, '', pageSchema(e), 'default')
      await pages(`/v1/organization/usage/${e.path}`, `&group_by=${e.fields.join(',')}`, pageSchema(e), 'default')
    }
  })
})
