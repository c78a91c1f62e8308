import t from 'tap'
import { admin, bearer, build, eachEngine, isProblem, tenantWithKey } from '../helpers.js'

// A JSON body holding a key `__proto__` (or `constructor` holding `prototype`) — in a bucket, at the top
// level, in a GraphQL request's variables — was answered 400 "malformed JSON body: Body is not valid JSON
// but content-type is set to 'application/json'": it is valid JSON. Such keys are still refused (prototype
// pollution; README "Request bodies"), by a 400 that names each key and where it is, and nothing is written.

const bucket = (extra = '') =>
  `{"start_time":"2026-03-01T00:00:00Z","end_time":"2026-03-02T00:00:00Z","model":"gpt-4o-mini","input_tokens":1${extra}}`

interface Problem { detail: string; errors: { index?: number; path: string; message: string }[] }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app, ['ingest', 'read'])
  const send = (url: string, payload: string, headers: Record<string, string> = bearer(key)) =>
    app.inject({ method: 'POST', url, headers: { ...headers, 'content-type': 'application/json' }, payload })
  const buckets = async () => Number((await app.testDb.query<{ n: string }>('select count(*) as n from usage_buckets where tenant_id = $1', [tenantId]))[0]!.n)

  t.test('a __proto__ key in a bucket or at the top level is a 400 naming each key and where it is', async (t) => {
    const res = await send('/v1/usage/buckets', `{"buckets":[${bucket()},${bucket(',"__proto__":{"polluted":true}')}],"__proto__":{"polluted":true}}`)
    t.equal(res.statusCode, 400, res.body)
    t.ok(isProblem(res))
    const problem = res.json() as Problem
    t.notMatch(problem.detail, /not valid JSON|malformed/, 'not called malformed: it is valid JSON')
    t.match(problem.detail, /valid JSON but holds keys/)
    t.same(problem.errors.map((e) => [e.index, e.path]), [[1, 'body.buckets.1.__proto__'], [undefined, 'body.__proto__']])
    for (const e of problem.errors) t.match(e.message, /"__proto__"/)
    t.equal(await buckets(), 0, 'nothing was written')
    t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched')
  })

  t.test('constructor.prototype is named alike, also an escaped "\\u005f_proto__"', async (t) => {
    const res = await send('/v1/tenants', '{"id":"ctor-tenant","name":"x","meta":{"constructor":{"prototype":{"polluted":true}}},"\\u005f_proto__":1}', admin)
    t.equal(res.statusCode, 400, res.body)
    t.ok(isProblem(res))
    t.same((res.json() as Problem).errors.map((e) => e.path), ['body.meta.constructor.prototype', 'body.__proto__'])
    t.equal((await app.inject({ method: 'GET', url: '/v1/tenants', headers: admin })).body.includes('ctor-tenant'), false, 'nothing was written')
    t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched')
  })

  t.test('in GraphQL variables it is a 400 naming the key, with the request id', async (t) => {
    const res = await send('/graphql', '{"query":"query($x: String) { __typename }","variables":{"x":"a","__proto__":{"polluted":true}}}')
    t.equal(res.statusCode, 400, res.body)
    const body = res.json() as { errors: { message: string; extensions: { code: string; requestId: string; errors: { path: string }[] } }[] }
    t.equal(body.errors.length, 1)
    t.match(body.errors[0]!.extensions, { code: 'BAD_USER_INPUT', requestId: res.headers['x-request-id'] })
    t.same(body.errors[0]!.extensions.errors.map((e) => e.path), ['body.variables.__proto__'])
  })

  t.test('a body that is not JSON is still called malformed', async (t) => {
    const res = await send('/v1/usage/buckets', '{"buckets":[')
    t.equal(res.statusCode, 400)
    t.match((res.json() as Problem).detail, /malformed JSON body/)
  })
})
