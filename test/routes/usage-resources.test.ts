import { readdirSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import t from 'tap'
import { bearer, build, eachEngine, FIXTURES, fixturePath, tenantWithKey } from '../helpers.js'
import { postBuckets } from '../factories/buckets.js'

// Every OpenAI usage page fixture and both Anthropic usage-report versions ingest through the one
// bucket endpoint; what is stored is checked against the fixture's own numbers.

type Db = { query: <T>(q: string, p?: unknown[]) => Promise<T[]> }
const resources = (db: Db, tenantId: string) =>
  db.query<{ resource: string; quantity: string; attributes: Record<string, string>; num_model_requests: number | null; source: string; shape: string }>(
    'select resource, quantity, attributes, num_model_requests, source, shape from usage_resources where tenant_id = $1 order by resource, id',
    [tenantId],
  )
const buckets = (db: Db, tenantId: string) =>
  db.query<Record<string, unknown>>('select * from usage_buckets where tenant_id = $1 order by usage_type, id', [tenantId])

/** The resource each OpenAI result object becomes, and the field that is its quantity. */
const EXPECTED: Record<string, [string, string] | 'tokens'> = {
  completions: 'tokens',
  embeddings: 'tokens',
  moderations: 'tokens',
  images: ['images', 'images'],
  audio_speeches: ['characters', 'characters'],
  audio_transcriptions: ['audio_seconds', 'seconds'],
  vector_stores: ['storage_bytes', 'usage_bytes'],
  code_interpreter_sessions: ['code_interpreter_sessions', 'num_sessions'],
  file_search_calls: ['file_search_calls', 'num_requests'],
  web_search_calls: ['web_search_calls', 'num_requests'],
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)

  const pages = readdirSync(`${FIXTURES}openai`).filter((f) => /^openai_usage_.*_example.*\.json$/.test(f))
  for (const file of pages)
    t.test(`the page fixture ${file} ingests, and a re-post changes nothing`, async (t) => {
      const path = fixturePath(t, `openai/${file}`)
      if (!path) return
      const body: unknown = JSON.parse(await readFile(path, 'utf8'))
      if (typeof body !== 'object' || body === null || !('data' in body)) return t.pass('not a page (a single result object)')
      const { key, tenantId } = await tenantWithKey(app, ['ingest'])
      const res = await postBuckets(app, key, body)
      t.equal(res.statusCode, 200, res.body)
      const results = (body as { data: { results: Record<string, unknown>[] }[] }).data.flatMap((b) => b.results)
      t.equal(res.json().received, results.length)
      const endpoint = /^openai_usage_(.*?)_example/.exec(file)![1]!
      const expected = EXPECTED[endpoint]!
      if (expected === 'tokens') {
        const rows = await buckets(app.testDb, tenantId)
        t.ok(rows.length > 0)
        t.ok(rows.every((r) => r.usage_type === endpoint), `usage_type ${endpoint}`)
      } else {
        const rows = await resources(app.testDb, tenantId)
        t.same(
          rows.map((r) => [r.resource, r.quantity, r.source]),
          results.map((r) => [expected[0], String(r[expected[1]]), 'openai_api']),
        )
        t.ok(rows.every((r) => Object.values(r.attributes).every((v) => typeof v === 'string')), 'null attributes are dropped')
      }
      t.match((await postBuckets(app, key, body)).json(), { created: 0, replaced: 0 })
    })

  t.test('a page mixing every usage type ingests whole, as buckets and resources of each kind', async (t) => {
    const { key, tenantId } = await tenantWithKey(app, ['ingest'])
    const all = await Promise.all(
      pages.filter((f) => !f.includes('pre2026') && !f.includes('cookbook')).map(async (f) => JSON.parse(await readFile(`${FIXTURES}openai/${f}`, 'utf8')) as { data?: unknown[] }),
    )
    const res = await postBuckets(app, key, all.filter((p) => Array.isArray(p.data)))
    t.equal(res.statusCode, 200, res.body)
    const kinds = new Set((await resources(app.testDb, tenantId)).map((r) => r.resource))
    t.same([...kinds].sort(), ['audio_seconds', 'characters', 'code_interpreter_sessions', 'file_search_calls', 'images', 'storage_bytes', 'web_search_calls'])
  })

  for (const [file, account] of [
    ['anthropic_usage_report_messages_example.json', 'org_v1'],
    ['anthropic_usage_report_messages_example_2026.json', 'org_v2'],
  ] as const)
    t.test(`the Anthropic usage report ${file} ingests with the contract's mapping`, async (t) => {
      const path = fixturePath(t, `anthropic/${file}`)
      if (!path) return
      const report = JSON.parse(await readFile(path, 'utf8')) as { data: { results: Record<string, unknown>[] }[] }
      const r = report.data[0]!.results[0]!
      const { key, tenantId } = await tenantWithKey(app, ['ingest'])
      const res = await postBuckets(app, key, report, 'application/json', `?account_id=${account}`)
      t.equal(res.statusCode, 200, res.body)
      t.match(res.json(), { received: 1, created: 2 })
      const [b] = await buckets(app.testDb, tenantId)
      const cc = r.cache_creation as Record<string, number>
      const uncached = r.uncached_input_tokens as number
      const read = r.cache_read_input_tokens as number
      t.match(b, {
        provider: 'anthropic',
        account_id: account,
        source: 'anthropic_api',
        project_id: r.workspace_id,
        api_key_id: r.api_key_id,
        user_id: (r.account_id ?? r.service_account_id ?? null) as string | null,
        model: r.model,
        service_tier: 'default',
        batch: false,
        context_tier: r.context_window,
        inference_geo: (r.inference_geo ?? null) as string | null,
        num_model_requests: null,
        in_text: uncached,
        cached_text: read,
        cache_write: cc.ephemeral_5m_input_tokens,
        cache_write_1h: cc.ephemeral_1h_input_tokens,
        out_text: r.output_tokens,
        input_tokens: uncached + read + cc.ephemeral_5m_input_tokens! + cc.ephemeral_1h_input_tokens!,
      })
      const [ws] = await resources(app.testDb, tenantId)
      t.match(ws, { resource: 'web_search_calls', quantity: String((r.server_tool_use as Record<string, number>).web_search_requests), source: 'anthropic_api' })
      t.equal(ws!.shape, b!.shape, 'web searches share the token row’s dimensions')
      t.match((await postBuckets(app, key, report, 'application/json', `?account_id=${account}`)).json(), { unchanged: 2 })
    })

  t.test('canonical resources: stored exactly, summed never (a repeated key is an error), replaced on re-post', async (t) => {
    const { key, tenantId } = await tenantWithKey(app, ['ingest'])
    const base = { start_time: '2025-10-07T00:00:00Z', end_time: '2025-10-08T00:00:00Z', model: 'dall-e-2' }
    const body = {
      buckets: [{ ...base, model: 'gpt-4o', input_tokens: 10 }],
      resources: [
        { ...base, resource: 'images', quantity: '3', attributes: { size: '1024x1024' } },
        { ...base, resource: 'images', quantity: 2.5e-7, attributes: { size: '256x256' } },
        { ...base, resource: 'gpu_seconds', quantity: '12345678901234567890.123456789', model: null },
      ],
    }
    t.match((await postBuckets(app, key, body)).json(), { received: 4, created: 4 })
    t.same(
      (await resources(app.testDb, tenantId)).map((r) => [r.resource, r.quantity]),
      [['gpu_seconds', '12345678901234567890.123456789'], ['images', '3'], ['images', '0.00000025']],
    )
    const again = { ...body, resources: [{ ...body.resources[0]!, quantity: '4' }] }
    t.match((await postBuckets(app, key, again)).json(), { created: 0, replaced: 1, unchanged: 1 })
    const dup = await postBuckets(app, key, { resources: [body.resources[0], body.resources[0]] })
    t.equal(dup.statusCode, 400)
    t.match(dup.json().errors, [{ index: 1, message: /repeats the natural key of resource 0/ }])
  })

  t.test('bad resources → 400 listing every problem, nothing written', async (t) => {
    const { key, tenantId } = await tenantWithKey(app, ['ingest'])
    const base = { start_time: 1730419200, end_time: 1730505600 }
    const res = await postBuckets(app, key, {
      buckets: [{ ...base, model: 'gpt-4o', input_tokens: 1 }],
      resources: [
        { ...base, resource: 'images', quantity: '-1' },
        { ...base, resource: 'Images!', quantity: 'ten' },
        { ...base, quantity: 1 },
        { ...base, resource: 'tokens', quantity: 1 },
        { ...base, resource: 'images', quantity: 1, attributes: { size: 1024 } },
      ],
    })
    t.equal(res.statusCode, 400, res.body)
    t.match(res.json().errors, [
      { index: 0, path: 'resources.quantity' },
      { index: 1, path: 'resources.resource' },
      { index: 1, path: 'resources.quantity' },
      { index: 2, path: 'resources.resource' },
      { index: 3, path: 'resources.resource', message: /reserved/ },
      { index: 4, path: 'resources.attributes', message: /not a string/ },
    ])
    const [n] = await app.testDb.query<{ n: number }>(
      'select (select count(*) from usage_buckets where tenant_id = $1) + (select count(*) from usage_resources where tenant_id = $1) as n',
      [tenantId],
    )
    t.equal(Number(n!.n), 0)
  })

  t.test('resources follow the report-shape rule: another granularity is 409 naming the stored row and writes nothing; DELETE resource= clears it', async (t) => {
    const { key, tenantId } = await tenantWithKey(app, ['ingest'])
    const day = { start_time: 1730419200, end_time: 1730505600, resource: 'images', quantity: '5' }
    t.equal((await postBuckets(app, key, { resources: [day] })).statusCode, 200)
    const hour = { start_time: 1730419200, end_time: 1730422800, resource: 'images', quantity: '1' }
    const res = await postBuckets(app, key, { buckets: [{ start_time: 1730419200, end_time: 1730422800, model: 'm', input_tokens: 1 }], resources: [hour] })
    t.equal(res.statusCode, 409, res.body)
    t.match(res.json(), { detail: /resource at index 0 .* overlaps stored resource \d+/, errors: [{ index: 0 }] })
    t.equal((await buckets(app.testDb, tenantId)).length, 0, 'the buckets of the refused request are not written either')
    t.equal((await postBuckets(app, key, { resources: [{ ...hour, resource: 'characters' }] })).statusCode, 200, 'another resource is another shape')
    const del = await app.inject({ method: 'DELETE', url: '/v1/usage/buckets?start_time=1730419200&end_time=1730505600&resource=images', headers: bearer(key) })
    t.match(del.json(), { deleted: 1 })
    t.equal((await postBuckets(app, key, { resources: [hour] })).statusCode, 200)
  })
})
