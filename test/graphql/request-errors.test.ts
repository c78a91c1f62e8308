import { Writable } from 'node:stream'
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import app from '../../src/app.js'
import type { Engine } from '../../src/db/client.js'
import { requestIdOptions } from '../../src/plugins/errors.js'
import { bearer, eachEngine, freshDb, isProblem, tenantWithKey, testConfig } from '../helpers.js'

/**
 * One error pipeline: request errors on /graphql answer their 4xx with a precise code (never
 * INTERNAL_SERVER_ERROR), UsageInputError is a 400 problem in REST and BAD_USER_INPUT in GraphQL,
 * every response carries x-request-id (= request_id in problem bodies), and only real faults are
 * logged at `error` with a stack.
 */
async function buildLogged(t: Test, engine: Engine) {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>)
      cb()
    },
  })
  const config = testConfig({ BODY_LIMIT: '4096' })
  const db = await freshDb(t, engine)
  const server = Fastify({ logger: { level: 'info', stream }, bodyLimit: config.BODY_LIMIT, ...requestIdOptions })
  await server.register(app, { config, db })
  await server.ready()
  t.teardown(() => server.close())
  return { server, lines, db }
}

void eachEngine(t, async (t, engine) => {
  const { server, lines, db } = await buildLogged(t, engine)
  const { key } = await tenantWithKey(server, ['read'])
  const h = bearer(key)
  const post = (payload: string | object, headers: Record<string, string> = {}) =>
    server.inject({ method: 'POST', url: '/graphql', headers: { ...h, 'content-type': 'application/json', ...headers }, payload })
  const errorOf = (res: { body: string }) => (JSON.parse(res.body) as { errors: { message: string; extensions: { code: string } }[] }).errors[0]!

  const cases: [string, () => ReturnType<typeof post>, number, string][] = [
    ['malformed JSON', () => post('{"query": '), 400, 'BAD_REQUEST'],
    ['a missing query', () => post({}), 400, 'BAD_REQUEST'],
    ['a batched array', () => post([{ query: '{ __typename }' }]), 400, 'BAD_REQUEST'],
    ['an oversize body', () => post({ query: '{ __typename }', pad: 'a'.repeat(5000) }), 413, 'PAYLOAD_TOO_LARGE'],
    ['a GET mutation', () => server.inject({ method: 'GET', url: `/graphql?query=${encodeURIComponent('mutation { x }')}`, headers: h }), 405, 'METHOD_NOT_ALLOWED'],
    ['a syntax error', () => post({ query: '{ usage(' }), 400, 'GRAPHQL_PARSE_FAILED'],
    // Texts that are also JSON: mercurius tried them as a document AST, and graphql-js crashed (500).
    ['an empty selection set', () => post({ query: '{}' }), 400, 'GRAPHQL_PARSE_FAILED'],
    ['an empty selection set with a space', () => post({ query: '{ }' }), 400, 'GRAPHQL_PARSE_FAILED'],
    ['an empty selection set by GET', () => server.inject({ method: 'GET', url: '/graphql?query=%7B%7D', headers: h }), 400, 'GRAPHQL_PARSE_FAILED'],
    ['a number as the query', () => post({ query: 5 }), 400, 'GRAPHQL_PARSE_FAILED'],
    ['a JSON document AST as the query', () => post({ query: JSON.stringify({ kind: 'Document', definitions: [{}] }) }), 400, 'GRAPHQL_PARSE_FAILED'],
    ['an empty query', () => post({ query: '' }), 400, 'BAD_REQUEST'],
    ['a null query', () => post({ query: null }), 400, 'BAD_REQUEST'],
    ['an unknown field', () => post({ query: '{ nope }' }), 400, 'GRAPHQL_VALIDATION_FAILED'],
    ['an impossible DateTime', () => post({ query: '{ usage(from: "2025-02-30T00:00:00Z", to: "2025-03-02T00:00:00Z") { totals { inputTokens } } }' }), 400, 'BAD_USER_INPUT'],
  ]
  for (const [name, send, status, code] of cases) {
    t.test(`${name} → ${status} ${code}, logged at info without a stack`, async (t) => {
      const res = await send()
      t.equal(res.statusCode, status, res.body)
      const err = errorOf(res)
      t.equal(err.extensions.code, code)
      t.notMatch(err.message, /internal/i)
      const id = res.headers['x-request-id']
      t.ok(id, 'x-request-id')
      const logged = lines.filter((l) => l.reqId === id && (l.level as number) >= 30)
      t.ok(logged.length, 'logged')
      t.ok(logged.every((l) => (l.level as number) <= 30 && !JSON.stringify(l).includes('"stack"')), JSON.stringify(logged))
    })
  }

  // Fastify's own text ("Unsupported Media Type") named neither the type sent nor the ones taken, as REST's 415 does.
  t.test('a body of a type /graphql does not take → 415 UNSUPPORTED_MEDIA_TYPE naming the type sent and those taken', async (t) => {
    for (const [type, named] of [['text/plain', '"text/plain"'], [undefined, '(none)']] as const) {
      const res = await server.inject({ method: 'POST', url: '/graphql', headers: { ...h, ...(type ? { 'content-type': type } : {}) }, payload: Buffer.from('{ __typename }') })
      t.equal(res.statusCode, 415, res.body)
      const err = errorOf(res)
      t.equal(err.extensions.code, 'UNSUPPORTED_MEDIA_TYPE')
      t.equal(err.message, `content type ${named} is not accepted here; send application/json or application/graphql`)
      t.match(res.json(), { data: null }, 'GraphQL-shaped, as the contract says of /graphql')
    }
  })

  t.test('bad variables get the same 400 on every request of a query, also the one that compiles it (jit)', async (t) => {
    const query = 'query($from: DateTime!, $to: DateTime!, $first: Int) { usage(from: $from, to: $to, first: $first) { rows { windowStart cost { total } } } }'
    const good = { from: '2025-10-01T00:00:00Z', to: '2025-10-02T00:00:00Z', first: 5 }
    const bad = [{ ...good, from: '2025-02-30T00:00:00Z' }, { ...good, first: 'five' }, { to: good.to }]
    const answers: { status: number; errors: unknown }[] = []
    // Each query text is compiled on its second request; every bad variable set is sent as the first,
    // the second (compiling) and a later request of its own query text.
    for (const [i, variables] of bad.entries()) {
      const text = `${query} # ${i}`
      for (const v of [variables, variables, good, variables]) {
        const res = await post({ query: text, variables: v })
        if (v === good) {
          t.equal(res.statusCode, 200, res.body)
          continue
        }
        // Each request has its own id; the rest of the answer is the same.
        const errors = (res.json() as { errors: { extensions: { requestId?: string } }[] }).errors
        for (const e of errors) {
          t.equal(e.extensions.requestId, res.headers['x-request-id'])
          delete e.extensions.requestId
        }
        answers.push({ status: res.statusCode, errors })
      }
      const [first, ...rest] = answers.splice(0)
      t.equal(first!.status, 400, JSON.stringify(first))
      t.match(first!.errors, [{ message: String, extensions: { code: /^(BAD_USER_INPUT|GRAPHQL_VALIDATION_FAILED)$/ } }])
      for (const a of rest) t.same(a, first, `variables ${JSON.stringify(variables)}: the same answer`)
    }
  })

  t.test('UsageInputError: BAD_USER_INPUT in GraphQL, a 400 problem naming the parameter in REST', async (t) => {
    const gql = await post({ query: '{ usage(from: "2025-10-02T00:00:00Z", to: "2025-10-01T00:00:00Z") { totals { inputTokens } } }' })
    t.same(errorOf(gql).extensions, { code: 'BAD_USER_INPUT', argument: 'to', errors: [{ path: 'to', message: '`to` must be later than `from`' }], requestId: gql.headers['x-request-id'] })
    const rest = await server.inject({ url: '/v1/organization/usage/completions?start_time=1759276800&rate_card=no-such-card', headers: h })
    t.equal(rest.statusCode, 400)
    t.ok(isProblem(rest))
    t.match(rest.json(), { errors: [{ path: 'querystring.rate_card' }] })
  })

  t.test('every response carries x-request-id, equal to request_id in problem bodies; a client’s safe id is kept', async (t) => {
    for (const url of ['/healthz', '/v1/me', '/nope', '/v1/organization/usage/completions?start_time=x']) {
      const res = await server.inject({ url, headers: h })
      t.ok(res.headers['x-request-id'], `${url} has x-request-id`)
      if (isProblem(res)) t.equal(res.json().request_id, res.headers['x-request-id'], `${url}: request_id = header`)
    }
    const mine = await server.inject({ url: '/v1/me', headers: { ...h, 'x-request-id': 'client-abc.123' } })
    t.equal(mine.headers['x-request-id'], 'client-abc.123')
    const unsafe = await server.inject({ url: '/nope', headers: { 'x-request-id': 'x'.repeat(300) } })
    t.not(unsafe.headers['x-request-id'], 'x'.repeat(300))
    t.equal(unsafe.json().request_id, unsafe.headers['x-request-id'])
  })

  t.test('a real fault is a 500 problem, logged at error with its stack', async (t) => {
    // A table gone missing fails the way a bug would.
    await db.query('alter table rate_cards rename to rate_cards_gone')
    t.teardown(() => db.query('alter table rate_cards_gone rename to rate_cards'))
    const res = await server.inject({ url: '/v1/rate-cards', headers: h })
    t.equal(res.statusCode, 500)
    t.ok(isProblem(res))
    t.notMatch(res.body, /rate_cards/, 'no SQL in the body')
    t.equal(res.json().request_id, res.headers['x-request-id'])
    const logged = lines.find((l) => l.reqId === res.headers['x-request-id'] && l.level === 50)
    t.match(JSON.stringify(logged), /"stack":/)
  })
})
