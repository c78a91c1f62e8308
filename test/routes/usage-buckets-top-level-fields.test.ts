import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// The canonical form is {"buckets": […], "resources": […]}. Any other top-level member was ignored: a
// misspelled "resource" list, or a usage page's "data" posted beside "resources", answered 200 and stored
// only part of what was sent. Unknown members of a bucket are named (400); so are the body's now.

const bucket = { start_time: '2026-03-01T10:00:00Z', end_time: '2026-03-01T11:00:00Z', model: 'gpt-4o', input_tokens: 10 }
const resource = { start_time: '2026-03-01T10:00:00Z', end_time: '2026-03-01T11:00:00Z', resource: 'images', quantity: '5' }
const page = { object: 'page', data: [{ start_time: 1772362800, end_time: 1772366400, results: [{ model: 'gpt-4o', input_tokens: 7 }] }] }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app)
  const post = (payload: object) => app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(key), payload })
  const stored = async () => {
    const [b] = await app.testDb.query<{ n: number }>('select count(*)::int as n from usage_buckets where tenant_id = $1', [tenantId])
    const [r] = await app.testDb.query<{ n: number }>('select count(*)::int as n from usage_resources where tenant_id = $1', [tenantId])
    return [b!.n, r!.n]
  }

  t.test('a canonical body with another top-level member is a 400 naming it, nothing written', async (t) => {
    for (const [name, body] of [
      ['misspelled resources', { buckets: [bucket], resource: [resource] }],
      ['a page beside resources', { ...page, resources: [resource] }],
      ['a page beside buckets', { ...page, buckets: [bucket] }],
    ] as const) {
      const res = await post(body)
      t.equal(res.statusCode, 400, `${name}: ${res.body}`)
      const paths = (res.json() as { errors: { path: string }[] }).errors.map((e) => e.path)
      t.ok(paths.includes(name === 'misspelled resources' ? 'resource' : 'data'), `${name}: names the member`)
    }
    t.same(await stored(), [0, 0], 'nothing was written')
  })

  t.test('the canonical members alone, and a page with its own members, still ingest', async (t) => {
    t.equal((await post({ buckets: [bucket], resources: [resource] })).statusCode, 200)
    const res = await post({ ...page, has_more: false, next_page: null })
    t.equal(res.statusCode, 200, res.body)
    t.same(await stored(), [2, 1])
  })
})
