import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// Every REST problem carries the request's id as `request_id`, and /graphql's HTTP-level errors (415, 413,
// a malformed body) as `extensions.requestId`; parse, validation, variable and execution errors — a
// resolver's 4xx problem, an internal error — carried it only in the `x-request-id` header. Every
// GraphQL error now carries it as `extensions.requestId`, the header's value.

interface Answer { data: unknown; errors?: { message: string; extensions: { code: string; requestId?: string } }[] }

const USAGE = '{ usage(from: "2026-03-02T00:00:00Z", to: "2026-03-01T00:00:00Z") { totals { inputTokens } } }'

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['read'])
  const post = (payload: object, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/graphql', headers: { ...bearer(key), 'content-type': 'application/json', ...headers }, payload })

  const cases: [string, () => ReturnType<typeof post>, number, string][] = [
    ['a syntax error', () => post({ query: '{ usage(' }), 400, 'GRAPHQL_PARSE_FAILED'],
    ['an unknown field (validation)', () => post({ query: '{ nope }' }), 400, 'GRAPHQL_VALIDATION_FAILED'],
    ['a variable of the wrong type', () => post({ query: 'query($f: DateTime!) { usage(from: $f, to: "2026-03-02T00:00:00Z") { totals { inputTokens } } }', variables: { f: 'soon' } }), 400, 'BAD_USER_INPUT'],
    ["a resolver's 4xx problem (to before from)", () => post({ query: USAGE }), 200, 'BAD_USER_INPUT'],
    ['a GET parse error', () => app.inject({ method: 'GET', url: '/graphql?query=%7B%20usage(', headers: bearer(key) }), 400, 'GRAPHQL_PARSE_FAILED'],
  ]
  for (const [name, send, status, code] of cases) {
    t.test(`${name}: ${code} carries extensions.requestId`, async (t) => {
      const res = await send()
      t.equal(res.statusCode, status, res.body)
      const body = res.json() as Answer
      t.ok(body.errors?.length, 'errors')
      for (const e of body.errors ?? []) {
        t.equal(e.extensions.code, code)
        t.equal(e.extensions.requestId, res.headers['x-request-id'], 'the header\'s id')
      }
    })
  }

  t.test('each of several errors carries it', async (t) => {
    const res = await post({ query: '{ nope other }' })
    const body = res.json() as Answer
    t.equal(body.errors?.length, 2)
    t.same(body.errors?.map((e) => e.extensions.requestId), [res.headers['x-request-id'], res.headers['x-request-id']])
  })

  t.test('an internal error carries it, and no driver message', async (t) => {
    // A real fault: the table the resolver reads is gone while the server runs.
    await app.testDb.query('alter table connections rename to connections_away')
    t.teardown(() => app.testDb.query('alter table connections_away rename to connections'))
    const res = await post({ query: '{ connections { id } }' })
    const body = res.json() as Answer
    t.equal(body.errors?.length, 1, res.body)
    t.same(body.errors![0]!.message, 'internal error')
    t.equal(body.errors![0]!.extensions.code, 'INTERNAL_SERVER_ERROR')
    t.equal(body.errors![0]!.extensions.requestId, res.headers['x-request-id'])
    t.notMatch(res.body, /relation|does not exist|connections_away/, 'no driver message')
  })
})
