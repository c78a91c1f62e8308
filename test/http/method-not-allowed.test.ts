import t from 'tap'
import { bearer, build, isProblem, tenantWithKey } from '../helpers.js'

// A path that exists under other methods answers 405 with `Allow` naming them (RFC 9110 §15.5.6); a
// path that exists under no method stays a 404. Both are problems. It answered 404 for both.

void t.test('405 for a wrong method on an existing path, 404 for a missing path', async (t) => {
  const app = await build(t, 'pglite')
  const { key, tenantId } = await tenantWithKey(app)
  const cases: { method: 'PUT' | 'PATCH' | 'GET' | 'DELETE'; url: string; allow: string[] }[] = [
    { method: 'PUT', url: '/v1/usage/buckets', allow: ['DELETE', 'POST'] },
    { method: 'GET', url: '/v1/usage/buckets?x=1', allow: ['DELETE', 'POST'] },
    { method: 'DELETE', url: '/v1/usage/events', allow: ['POST'] },
    { method: 'PUT', url: '/graphql', allow: ['GET', 'HEAD', 'POST'] },
    { method: 'PATCH', url: `/v1/tenants/${tenantId}/api-keys`, allow: ['GET', 'HEAD', 'POST'] },
  ]
  for (const c of cases) {
    const res = await app.inject({ method: c.method, url: c.url, headers: bearer(key) })
    t.equal(res.statusCode, 405, `${c.method} ${c.url}`)
    t.ok(isProblem(res), 'problem+json')
    const allow = String(res.headers.allow).split(', ')
    for (const m of c.allow) t.ok(allow.includes(m), `Allow lists ${m}: ${res.headers.allow}`)
    t.notOk(allow.includes(c.method), 'not the method that was refused')
    t.match(res.json(), { status: 405, detail: new RegExp(`${c.method} is not allowed`) })
  }
  for (const url of ['/v1/nothing-here', '/v1/usage/buckets/extra', '/v1/tenants']) {
    const res = await app.inject({ method: 'PUT', url, headers: bearer(key) })
    t.equal(res.statusCode, url === '/v1/tenants' ? 405 : 404, `PUT ${url}`)
    t.ok(isProblem(res))
  }
  const missing = await app.inject({ method: 'GET', url: '/v1/nothing-here' })
  t.equal(missing.statusCode, 404)
  t.equal(missing.headers.allow, undefined, 'a 404 carries no Allow')
})
