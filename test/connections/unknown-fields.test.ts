import t from 'tap'
import { eachEngine } from '../helpers.js'
import { buildWith, OPENAI_KEY, tenant } from './support/harness.js'

const valid = { name: 'o', provider: 'openai', admin_key: OPENAI_KEY, start_date: '2025-10-01' }
const problemsOf = (body: string) => (JSON.parse(body) as { errors: { path: string; message: string }[] }).errors

void t.test('a connection body field the schema does not know is a 400 naming it, never silently dropped', (t) =>
  eachEngine(t, async (t, engine) => {
    const app = await buildWith(t, engine)
    const { headers } = await tenant(app)

    // `enabled` is shown by GET and taken by PATCH: dropped on create, the connection pulled at once.
    const create = await app.inject({ method: 'POST', url: '/v1/connections', headers, payload: { ...valid, enabled: false, lag_hour: 0, interval_minutes: 0 } })
    t.equal(create.statusCode, 400)
    t.match(create.headers['content-type'], /^application\/problem\+json/)
    const errors = problemsOf(create.body)
    t.same(errors.map((e) => e.path).sort(), ['body.enabled', 'body.interval_minutes', 'body.lag_hour'], 'each unknown field named at its own path, beside the other problems')
    t.match(errors.find((e) => e.path === 'body.lag_hour'), { message: /is not a field of this body; its fields are name, provider, admin_key, .*lag_hours/ })
    t.same((await app.inject({ method: 'GET', url: '/v1/connections', headers })).json(), [], 'nothing stored')

    const created = await app.inject({ method: 'POST', url: '/v1/connections', headers, payload: valid })
    t.equal(created.statusCode, 201, 'the known fields alone still create it')
    const id = (created.json() as { id: string }).id
    const patch = await app.inject({ method: 'PATCH', url: `/v1/connections/${id}`, headers, payload: { lag_hour: 0, bogus: 1, lag_hours: 0 } })
    t.equal(patch.statusCode, 400)
    t.same(problemsOf(patch.body).map((e) => e.path).sort(), ['body.bogus', 'body.lag_hour'], 'a PATCH names each unknown field apart too')
    const state = (await app.inject({ method: 'GET', url: `/v1/connections/${id}`, headers })).json() as { lag_hours: number; enabled: boolean }
    t.same([state.lag_hours, state.enabled], [48, true], 'the refused PATCH changed nothing')
    t.equal((await app.inject({ method: 'PATCH', url: `/v1/connections/${id}`, headers, payload: { enabled: false, lag_hours: 0 } })).statusCode, 200, 'known fields patch')
  }),
)
