import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// The tests' app (test/helpers.ts build()) ran without the server's request-id options, so no test could
// check that a client's own x-request-id is kept: there every id was Fastify's counter ("req-1"). Both now
// take src/plugins/errors.ts requestIdOptions, and this checks what a client sees through that app.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

void t.test("a client's own x-request-id is kept in the header, the problem body and GraphQL errors", (t) =>
  eachEngine(t, async (t, engine) => {
    const app = await build(t, engine)
    const { key } = await tenantWithKey(app, ['read'])

    const ok = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'client-id-42' } })
    t.equal(ok.headers['x-request-id'], 'client-id-42', 'a success echoes it')

    const refused = await app.inject({ method: 'GET', url: '/v1/me', headers: { 'x-request-id': 'client:id.43_x' } })
    t.equal(refused.statusCode, 401)
    t.equal(refused.headers['x-request-id'], 'client:id.43_x', 'a problem echoes it')
    t.equal(refused.json<{ request_id: string }>().request_id, 'client:id.43_x', 'request_id is the same id')

    const gql = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: { ...bearer(key), 'x-request-id': 'client-id-44' },
      payload: { query: '{ nope }' },
    })
    t.equal(gql.headers['x-request-id'], 'client-id-44', 'GraphQL echoes it')
    t.equal(gql.json<{ errors: { extensions: { requestId: string } }[] }>().errors[0]!.extensions.requestId, 'client-id-44', 'GraphQL errors carry it')

    const unsafe: [string, string | string[]][] = [['a space', 'has space'], ['129 characters', 'a'.repeat(129)], ['a repeated header', ['x1', 'x2']]]
    for (const [name, sent] of unsafe) {
      const res = await app.inject({ method: 'GET', url: '/v1/me', headers: { 'x-request-id': sent } })
      const id = res.headers['x-request-id']
      t.match(id, UUID, `${name}: a fresh id instead`)
      t.equal(res.json<{ request_id: string }>().request_id, id, `${name}: request_id is the fresh id`)
    }
  }),
)
