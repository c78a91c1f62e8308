import t from 'tap'
import { admin, bearer, build, eachEngine, isProblem, tenantWithKey } from '../helpers.js'

// A body of a type no parser takes was a 415 saying only "Unsupported Media Type" (Fastify's), neither the
// type refused nor the ones the route takes; and text/plain reached every JSON route as a string, refused
// as "expected object, received string". Each is a 415 naming the type sent and the route's types.

void t.test('a body of a type the route does not take is a 415 naming it and the types the route takes', (t) =>
  eachEngine(t, async (t, engine) => {
    const app = await build(t, engine)
    const { key } = await tenantWithKey(app)
    const cases = [
      { url: '/v1/tenants', headers: admin, type: 'text/plain', accepted: 'application/json' },
      { url: '/v1/usage/events', headers: bearer(key), type: 'text/plain; charset=utf-8', accepted: 'application/json' },
      { url: '/v1/usage/events', headers: bearer(key), type: 'application/x-www-form-urlencoded', accepted: 'application/json' },
      { url: '/v1/usage/buckets', headers: bearer(key), type: 'text/plain', accepted: 'application/json or text/csv' },
      { url: '/v1/usage/buckets', headers: bearer(key), type: 'application/xml', accepted: 'application/json or text/csv' },
      { url: '/v1/billing/costs?provider=openai', headers: bearer(key), type: 'multipart/form-data; boundary=x', accepted: 'application/json or text/csv' },
    ]
    for (const c of cases) {
      const res = await app.inject({ method: 'POST', url: c.url, headers: { ...c.headers, 'content-type': c.type }, payload: '{"id":"x","name":"x"}' })
      t.equal(res.statusCode, 415, `${c.type} to ${c.url}`)
      t.ok(isProblem(res), 'problem+json')
      t.equal(res.json().detail, `content type "${c.type}" is not accepted here; send ${c.accepted}`)
    }
    const listed = await app.inject({ method: 'GET', url: '/v1/tenants', headers: admin })
    t.notOk((listed.json() as { data: { id: string }[] }).data.some((tenant) => tenant.id === 'x'), 'nothing was written')
  }),
)
