import t from 'tap'
import { postBuckets, rowCount } from '../factories/buckets.js'
import { build, eachEngine, isProblem, tenantWithKey } from '../helpers.js'

// Bucket dimensions are bounded at the edge (contract v2: ≤ 256 characters), NUL (which PostgreSQL
// text cannot hold) and invalid UTF-8 are refused by the parsers, each as a 400 naming the row — before
// the database sees them (a NUL used to fail a COPY mid-stream; invalid UTF-8 was stored as U+FFFD).
const FOUR_BYTES = '\u{1F600}'
const T0 = 1_759_276_800
const bucket = (over: Record<string, unknown> = {}) => ({ start_time: T0, end_time: T0 + 3600, model: 'gpt-4o', input_tokens: 1, ...over })
const csvHeader = 'start_time,end_time,model,project_id,input_tokens\n'

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)

  t.test('a 257-character dimension is a 400 naming the row and field; nothing is written', async (t) => {
    const { key, tenantId } = await tenantWithKey(app, ['ingest'])
    const cases: [string, object, string, RegExp][] = [
      ['project_id', { buckets: [bucket(), bucket({ model: 'b', project_id: 'p'.repeat(257) })] }, 'project_id', /at most 256 characters/],
      // A provider is an id (docs/consistency.md): at most 63 characters.
      ['provider (10,000 characters were stored)', { buckets: [bucket(), bucket({ model: 'b', provider: 'p'.repeat(10_000) })] }, 'provider', /at most 63 characters/],
      ['model in four-byte characters', { buckets: [bucket(), bucket({ model: FOUR_BYTES.repeat(257) })] }, 'model', /at most 256 characters/],
      ['a page result', { data: [{ start_time: T0, end_time: T0 + 3600, results: [{ model: 'm', input_tokens: 1 }, { model: 'm', user_id: 'u'.repeat(257), input_tokens: 1 }] }] }, 'user_id', /at most 256 characters/],
    ]
    for (const [name, body, path, message] of cases) {
      const res = await postBuckets(app, key, body)
      t.equal(res.statusCode, 400, name)
      t.ok(isProblem(res))
      t.match(res.json(), { errors: [{ index: 1, path, message }] }, name)
    }
    const query = await postBuckets(app, key, { data: [{ start_time: T0, end_time: T0 + 3600, results: [{ model: 'm', input_tokens: 1 }] }] }, 'application/json', `?account_id=${'a'.repeat(257)}`)
    t.equal(query.statusCode, 400, '?account_id= too')
    const csv = await postBuckets(app, key, `${csvHeader}${T0},${T0 + 3600},m,p,1\n${T0},${T0 + 3600},m,${'p'.repeat(257)},1\n`, 'text/csv')
    t.equal(csv.statusCode, 400)
    t.match(csv.json(), { errors: [{ line: 3, path: 'project_id', message: /at most 256 characters/ }] })
    t.equal(await rowCount(app, tenantId), 0)
  })

  // 17,000 fractional digits overflow PostgreSQL's numeric: a 422 about token counts that named no row.
  t.test('an over-long resource quantity or reported_cost is a 400 naming the row and field; nothing is written', async (t) => {
    const { key, tenantId } = await tenantWithKey(app, ['ingest'])
    const long = `0.${'0'.repeat(17_000)}1`
    const resource = (over: Record<string, unknown>) => ({ start_time: T0, end_time: T0 + 3600, resource: 'images', quantity: '1', ...over })
    const res = await postBuckets(app, key, { resources: [resource({ quantity: long }), resource({ model: 'm', reported_cost: long })] })
    t.equal(res.statusCode, 400, res.body.slice(0, 300))
    t.ok(isProblem(res))
    t.match(res.json(), { errors: [{ index: 0, path: 'resources.quantity', message: /at most 100 characters/ }, { index: 1, path: 'resources.reported_cost' }] })
    const [stored] = await app.testDb.query<{ n: number }>('select count(*)::int as n from usage_resources where tenant_id = $1', [tenantId])
    t.equal(stored!.n, 0)
  })

  t.test('a dimension of 256 four-byte characters stores as sent', async (t) => {
    const { key, tenantId } = await tenantWithKey(app, ['ingest'])
    const long = FOUR_BYTES.repeat(256)
    const res = await postBuckets(app, key, { buckets: [bucket({ project_id: long })] })
    t.equal(res.statusCode, 200, res.body)
    const stored = await app.testDb.query<{ project_id: string }>('select project_id from usage_buckets where tenant_id = $1', [tenantId])
    t.same(stored, [{ project_id: long }])
  })

  t.test('NUL in a JSON dimension or a CSV cell is a 400 naming the row', async (t) => {
    const { key, tenantId } = await tenantWithKey(app, ['ingest'])
    const json = await postBuckets(app, key, { buckets: [bucket(), bucket({ model: 'a\u0000b' })] })
    t.equal(json.statusCode, 400)
    t.match(json.json(), { errors: [{ index: 1, path: 'model', message: /NUL/ }] })
    // The repro: a NUL inside a CSV cell.
    const csv = await postBuckets(app, key, `start_time,end_time,model,input_tokens\n${T0},${T0 + 3600},ok,5\n1766000000,1766003600,a\u0000b,5\n`, 'text/csv')
    t.equal(csv.statusCode, 400)
    t.match(csv.json(), { errors: [{ line: 3, path: 'model', message: /NUL/ }] })
    t.equal(await rowCount(app, tenantId), 0)
  })

  t.test('invalid UTF-8 in a CSV cell is a 400 naming the line, not a stored U+FFFD', async (t) => {
    const { key, tenantId } = await tenantWithKey(app, ['ingest'])
    const body = Buffer.concat([
      Buffer.from(`${csvHeader}${T0},${T0 + 3600},m,p,1\n${T0},${T0 + 3600},m,caf`),
      Buffer.from([0xe9]), // "é" in Latin-1
      Buffer.from(',1\n'),
    ])
    const res = await postBuckets(app, key, body, 'text/csv')
    t.equal(res.statusCode, 400, res.body)
    t.match(res.json(), { errors: [{ line: 3, message: 'is not valid UTF-8' }] })
    t.equal(await rowCount(app, tenantId), 0)
  })
})
