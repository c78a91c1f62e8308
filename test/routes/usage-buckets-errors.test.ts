import t from 'tap'
import { admin, bearer, build, eachEngine, isProblem, tenantWithKey } from '../helpers.js'
import { postBuckets, rowCount } from '../factories/buckets.js'

const HEADER = 'start_time,end_time,model,batch,num_model_requests,input_tokens,input_cached_tokens,output_tokens'
const good = { start_time: 1735689600, end_time: 1735776000, model: 'gpt-4o', input_tokens: 10, output_tokens: 2 }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  // Every case posts to a fresh tenant holding one good row, then checks the rejection wrote nothing.
  const rejects = (name: string, status: number, payload: string | object, contentType: string, check?: (body: Record<string, unknown>) => void) =>
    t.test(name, async (t) => {
      const { key, tenantId } = await tenantWithKey(app, ['ingest'])
      const res = await postBuckets(app, key, payload, contentType)
      t.equal(res.statusCode, status, res.body)
      t.ok(isProblem(res), 'problem+json')
      check?.(res.json())
      t.equal(await rowCount(app, tenantId), 0, 'nothing written')
    })

  rejects('malformed JSON → 400', 400, '{"buckets": [', 'application/json')
  rejects('a JSON body of no known form → 400', 400, { rows: [] }, 'application/json')
  rejects('malformed CSV (unclosed quote) → 400 with its line', 400, `${HEADER}\n1735689600,1735776000,"gpt-4o,FALSE,1,1,0,1\n`, 'text/csv', (b) =>
    t.match(b.errors, [{ line: Number }]),
  )
  rejects('a CSV without start/end columns → 400 on line 1', 400, 'model,input_tokens\nx,1\n', 'text/csv', (b) =>
    t.match(b.errors, [{ line: 1, path: 'start_time' }, { line: 1, path: 'end_time' }]),
  )
  rejects('an empty CSV → 400', 400, '', 'text/csv')

  // A misspelled ?group_by= name was taken as an attribute key no row has, silently changing the shape.
  t.test('a group_by name that is neither a dimension nor an attribute → 400 naming it; known names pass', async (t) => {
    const { key, tenantId } = await tenantWithKey(app, ['ingest'])
    const bad = await postBuckets(app, key, { buckets: [good] }, 'application/json', '?group_by=model,projetc_id')
    t.equal(bad.statusCode, 400, bad.body)
    t.ok(isProblem(bad))
    t.match(bad.json(), { errors: [{ path: 'query.group_by', message: /"projetc_id" is neither a dimension \(project_id, .*workspace_id/ }] })
    t.equal(await rowCount(app, tenantId), 0, 'nothing written')
    const inherited = await postBuckets(app, key, { buckets: [good] }, 'application/json', '?group_by=model,constructor,toString')
    t.equal(inherited.statusCode, 400, 'names of Object\'s own members are not dimensions either')
    t.match(inherited.json(), { errors: [{ message: /"constructor"/ }, { message: /"toString"/ }] })
    const image = { start_time: good.start_time, end_time: good.end_time, model: 'gpt-image-1', resource: 'images', quantity: '2', attributes: { size: '1024x1024' } }
    for (const [query, payload] of [
      ['?group_by=model,workspace_id,context_window', { buckets: [good] }],
      ['?group_by=model,size', { buckets: [], resources: [image] }],
      ['?group_by=model,source', { buckets: [], resources: [{ ...image, attributes: { size: '1024x1024', source: 'image.generation' } }] }],
      ['?group_by=model,my_own_key', { buckets: [], resources: [{ ...image, attributes: { my_own_key: 'x' } }] }],
    ] as const) {
      const ok = await postBuckets(app, (await tenantWithKey(app, ['ingest'])).key, payload, 'application/json', query)
      t.equal(ok.statusCode, 200, `${query}: ${ok.body}`)
    }
    t.equal((await postBuckets(app, key, { buckets: [] }, 'application/json', '?group_by=anything_at_all')).statusCode, 200, 'an empty body declares nothing')
  })

  rejects('wrong types: every bad field of every bad bucket is listed by index', 400, {
    buckets: [good, { ...good, model: 5, input_tokens: '10' }, { ...good, model: undefined, batch: 'yes', input_token: 3 }],
  }, 'application/json', (b) => {
    const errors = b.errors as { index: number; path: string }[]
    t.same(errors.map((e) => [e.index, e.path]).sort(), [
      [1, 'input_tokens'],
      [1, 'model'],
      [2, 'batch'],
      [2, 'input_token'],
      [2, 'model'],
    ])
  })
  rejects('negative and fractional JSON counters', 400, { buckets: [{ ...good, input_tokens: -1 }, { ...good, model: 'b', output_tokens: 1.5 }] }, 'application/json', (b) =>
    t.match(b.errors, [{ index: 0, path: 'input_tokens', message: /≥ 0/ }, { index: 1, path: 'output_tokens', message: /integer/ }]),
  )
  rejects('counters above 2^53 − 1', 400, { buckets: [{ ...good, input_tokens: 2 ** 53 }] }, 'application/json', (b) =>
    t.match(b.errors, [{ index: 0, path: 'input_tokens', message: /2\^53/ }]),
  )
  rejects(
    'negative, fractional and non-numeric CSV counters and bad batch values, by line',
    400,
    `${HEADER}\n1735689600,1735776000,a,FALSE,1.0,10.0,0.0,1.0\n1735689600,1735776000,b,FALSE,1,-5,0,1\n1735689600,1735776000,c,maybe,1,10.5,0,x\n`,
    'text/csv',
    (b) => {
      const errors = b.errors as { line: number; path: string }[]
      t.same(errors.map((e) => [e.line, e.path]), [[3, 'input_tokens'], [4, 'batch'], [4, 'input_tokens'], [4, 'output_tokens']])
    },
  )
  rejects('inconsistent breakdowns (cached input exceeds input) are rejected, never fixed', 400, {
    buckets: [{ ...good, input_tokens: 10, input_cached_tokens: 11 }, { ...good, model: 'b', input_tokens: 10, input_uncached_tokens: 4, input_cached_tokens: 5, input_cache_write_tokens: 0 }],
  }, 'application/json', (b) => t.match(b.errors, [{ index: 0, path: 'input_tokens' }, { index: 1, path: 'input_tokens', message: /must equal/ }]))
  rejects('end ≤ start', 400, { buckets: [{ ...good, end_time: good.start_time }, { ...good, model: 'b', start_time: '2025-01-02T00:00:00Z', end_time: '2025-01-01T00:00:00Z' }] }, 'application/json', (b) =>
    t.match(b.errors, [{ index: 0, path: 'end_time' }, { index: 1, path: 'end_time' }]),
  )
  rejects('invalid times', 400, { buckets: [{ ...good, start_time: 'yesterday' }] }, 'application/json', (b) => t.match(b.errors, [{ index: 0, path: 'start_time' }]))
  rejects('a repeated natural key in {"buckets"} names both indexes', 400, { buckets: [good, { ...good, input_tokens: 3 }] }, 'application/json', (b) =>
    t.match(b.errors, [{ index: 1, message: /bucket 0/ }]),
  )
  rejects(
    'the same bucket in two pages names both indexes',
    400,
    [1, 2].map(() => ({ object: 'page', data: [{ start_time: 1735689600, end_time: 1735776000, results: [{ model: 'm', input_tokens: 1 }] }] })),
    'application/json',
    (b) => t.match(b.errors, [{ index: 1, message: /index 0.*index 1/ }]),
  )
  // The same instants in other notation were not recognised: the bucket was summed, counted twice.
  rejects(
    'the same bucket in two pages, its times written differently, names both indexes',
    400,
    [
      { object: 'page', data: [{ start_time: 1735689600, end_time: 1735776000, results: [{ model: 'm', input_tokens: 1 }] }] },
      { object: 'page', data: [{ start_time: '2025-01-01T00:00:00Z', end_time: '2025-01-02T00:00:00+00:00', results: [{ model: 'm', input_tokens: 1 }] }] },
    ],
    'application/json',
    (b) => t.match(b.errors, [{ index: 1, message: /index 0.*index 1/ }]),
  )
  // Pages were told apart by the text of their results' `object`, not by the kind it names: a result
  // without `object` (a completions result) and the same result with it, or OpenAI's two names of the
  // file search results, made the same bucket look like two endpoints' — summed, counted twice.
  const page = (object: string | undefined, result: Record<string, unknown>) =>
    ({ object: 'page', data: [{ start_time: 1735689600, end_time: 1735776000, results: [{ ...(object ? { object } : {}), ...result }] }] })
  rejects(
    'the same bucket in two pages, one naming its results\' object and one not, names both indexes',
    400,
    [page(undefined, { model: 'm', input_tokens: 1 }), page('organization.usage.completions.result', { model: 'm', input_tokens: 1 })],
    'application/json',
    (b) => t.match(b.errors, [{ index: 1, message: /index 0.*index 1/ }]),
  )
  t.test('the same bucket in two pages under both names of one result kind names both indexes', async (t) => {
    const { key, tenantId } = await tenantWithKey(app, ['ingest'])
    const result = { project_id: 'p', user_id: null, api_key_id: null, vector_store_id: 'vs_1', num_requests: 3 }
    const res = await postBuckets(app, key, [page('organization.usage.file_searches.result', result), page('organization.usage.file_search_calls.result', result)], 'application/json')
    t.equal(res.statusCode, 400, res.body)
    t.match(res.json(), { errors: [{ index: 1, message: /index 0.*index 1/ }] })
    const [r] = await app.testDb.query<{ n: number }>('select count(*)::int8 as n from usage_resources where tenant_id = $1', [tenantId])
    t.equal(r!.n, 0, 'nothing written')
  })
  // Pages were told apart by the set of their results' kinds: a completions bucket, and the same bucket
  // again with an embeddings (or images) result beside it, were two sets — the completions summed, counted twice.
  const twoKinds = (...results: Record<string, unknown>[]) => ({ object: 'page', data: [{ start_time: 1735689600, end_time: 1735776000, results }] })
  const completions = { object: 'organization.usage.completions.result', model: 'm', input_tokens: 1 }
  const embeddings = { object: 'organization.usage.embeddings.result', model: 'e', input_tokens: 2 }
  const images = { object: 'organization.usage.images.result', model: 'i', images: 3, size: '1024x1024' }
  for (const [name, second] of [['an embeddings', twoKinds(embeddings, completions)], ['an images', twoKinds(completions, images)]] as const)
    rejects(
      `the same completions bucket in two pages, the second with ${name} result beside it, names both indexes`,
      400,
      [twoKinds(completions), second],
      'application/json',
      (b) => t.match(b.errors, [{ index: 1, path: '1.data.0', message: /index 0.*index 1/ }]),
    )
  t.test('the same bucket in two pages with results of different kinds is two endpoints\' pages, stored', async (t) => {
    const { key, tenantId } = await tenantWithKey(app, ['ingest'])
    const res = await postBuckets(app, key, [twoKinds(completions), twoKinds(embeddings, images)], 'application/json')
    t.equal(res.statusCode, 200, res.body)
    t.equal(await rowCount(app, tenantId), 2, 'the completions and embeddings buckets')
  })
  // Read as "not reported": the cache writes and web searches were dropped and the rest stored (200).
  rejects(
    'an Anthropic result whose cache_creation or server_tool_use is not an object names both',
    400,
    {
      data: [{
        starting_at: '2025-08-01T00:00:00Z',
        ending_at: '2025-08-02T00:00:00Z',
        results: [
          { model: 'claude-sonnet-4-20250514', uncached_input_tokens: 10, output_tokens: 4, cache_creation: [500, 1000] },
          { model: 'claude-opus-4-20250514', uncached_input_tokens: 10, output_tokens: 4, server_tool_use: 10 },
        ],
      }],
    },
    'application/json',
    (b) => t.match(b.errors, [{ index: 0, path: 'cache_creation' }, { index: 1, path: 'server_tool_use' }]),
  )
  rejects('text/plain → 415', 415, 'hello', 'text/plain')
  rejects('application/xml → 415', 415, '<x/>', 'application/xml')

  t.test('one bad row among many lists at most 1,000 problems with error_count and truncated', async (t) => {
    const { key, tenantId } = await tenantWithKey(app, ['ingest'])
    const lines = Array.from({ length: 1200 }, (_, i) => `${1735689600 + i * 60},${1735689660 + i * 60},m,FALSE,1,-1,0,1`)
    const res = await postBuckets(app, key, [HEADER, ...lines].join('\n'), 'text/csv')
    t.equal(res.statusCode, 400)
    t.match(res.json(), { error_count: 1200, truncated: true })
    t.equal(res.json().errors.length, 1000)
    t.equal(await rowCount(app, tenantId), 0)
  })

  t.test('auth: 401 without or with a bad token, 403 without the ingest scope, 400 for admin without X-Tenant-Id', async (t) => {
    const none = await app.inject({ method: 'POST', url: '/v1/usage/buckets', payload: { buckets: [good] } })
    t.equal(none.statusCode, 401)
    t.ok(isProblem(none))
    t.equal((await postBuckets(app, 'tl_key_wrong', { buckets: [good] })).statusCode, 401)
    const reader = await tenantWithKey(app, ['read'])
    const forbidden = await postBuckets(app, reader.key, { buckets: [good] })
    t.equal(forbidden.statusCode, 403)
    t.ok(isProblem(forbidden))
    t.equal(await rowCount(app, reader.tenantId), 0)
    const adminNoTenant = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: admin, payload: { buckets: [good] } })
    t.equal(adminNoTenant.statusCode, 400)
    t.ok(isProblem(adminNoTenant))
    const asTenant = await app.inject({
      method: 'POST',
      url: '/v1/usage/buckets',
      headers: { ...admin, 'x-tenant-id': reader.tenantId },
      payload: { buckets: [good] },
    })
    t.equal(asTenant.statusCode, 200)
    t.equal(await rowCount(app, reader.tenantId), 1)
    const del = await app.inject({ method: 'DELETE', url: '/v1/usage/buckets?start_time=1&end_time=2', headers: bearer(reader.key) })
    t.equal(del.statusCode, 403)
    const badRange = await app.inject({
      method: 'DELETE',
      url: '/v1/usage/buckets?start_time=5&end_time=2',
      headers: { ...admin, 'x-tenant-id': reader.tenantId },
    })
    t.equal(badRange.statusCode, 400)
  })
})

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BODY_LIMIT: '1024', CSV_BODY_LIMIT: '4096' })
  t.test('oversize JSON and CSV bodies → 413 problem, nothing written', async (t) => {
    const { key, tenantId } = await tenantWithKey(app, ['ingest'])
    const json = await postBuckets(app, key, { buckets: Array.from({ length: 40 }, (_, i) => ({ ...good, model: `m${i}` })) })
    t.equal(json.statusCode, 413)
    t.ok(isProblem(json))
    t.match(json.json().detail, /limit of 1024 bytes/, 'names the configured limit')
    const rows = Array.from({ length: 150 }, (_, i) => `1735689600,1735776000,m${i},FALSE,1,1,0,1`)
    const csv = await postBuckets(app, key, [HEADER, ...rows].join('\n'), 'text/csv')
    t.equal(csv.statusCode, 413)
    t.ok(isProblem(csv))
    t.equal(await rowCount(app, tenantId), 0)
    // CSV has its own, larger limit: a CSV over BODY_LIMIT but under CSV_BODY_LIMIT is accepted.
    const between = [HEADER, ...rows.slice(0, 60)].join('\n')
    t.ok(between.length > 1024 && between.length < 4096)
    const ok = await postBuckets(app, key, between, 'text/csv')
    t.equal(ok.statusCode, 200, ok.body)
    t.equal(await rowCount(app, tenantId), 60)
  })
})
