import t from 'tap'
import { admin, bearer, build, eachEngine, isProblem, tenantWithKey, uniqueId } from '../helpers.js'

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)

  t.test('creates a tenant with the admin token and refuses a duplicate id', async (t) => {
    const id = uniqueId('acme')
    const created = await app.inject({ method: 'POST', url: '/v1/tenants', headers: admin, payload: { id, name: 'Acme' } })
    t.equal(created.statusCode, 201)
    t.match(created.json(), { id, name: 'Acme' })
    const again = await app.inject({ method: 'POST', url: '/v1/tenants', headers: admin, payload: { id, name: 'Acme' } })
    t.equal(again.statusCode, 409)
    t.ok(isProblem(again))
  })

  t.test('rejects invalid tenant bodies listing every problem', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/v1/tenants', headers: admin, payload: { id: 'Has Space', name: '' } })
    t.equal(res.statusCode, 400)
    t.ok(isProblem(res))
    const paths = (res.json().errors as { path: string }[]).map((e) => e.path).sort()
    t.same(paths, ['body.id', 'body.name'])
  })

  t.test('answers 401 without a token and with a wrong one', async (t) => {
    const none = await app.inject({ method: 'GET', url: '/v1/tenants' })
    t.equal(none.statusCode, 401)
    t.ok(isProblem(none))
    const wrong = await app.inject({ method: 'GET', url: '/v1/tenants', headers: bearer('tl_key_nope') })
    t.equal(wrong.statusCode, 401)
  })

  t.test('a tenant key cannot use admin routes', async (t) => {
    const { key, tenantId } = await tenantWithKey(app)
    const res = await app.inject({ method: 'GET', url: '/v1/tenants', headers: bearer(key) })
    t.equal(res.statusCode, 403)
    const keys = await app.inject({ method: 'GET', url: `/v1/tenants/${tenantId}/api-keys`, headers: bearer(key) })
    t.equal(keys.statusCode, 403)
  })

  t.test('stores keys hashed, lists them without secrets, and revocation is immediate', async (t) => {
    const { key, keyId, tenantId } = await tenantWithKey(app, ['read'])
    t.match(key, /^tl_key_[A-Za-z0-9_-]{43}$/)
    const stored = await app.testDb.query<{ key_hash: string }>('select key_hash from api_keys where id = $1', [keyId])
    t.not(stored[0]?.key_hash, key)
    t.notMatch(JSON.stringify(stored), key)
    const listed = await app.inject({ method: 'GET', url: `/v1/tenants/${tenantId}/api-keys`, headers: admin })
    t.equal(listed.statusCode, 200)
    t.notMatch(listed.body, key)
    t.match(listed.json().data, [{ id: keyId, scopes: ['read'], revoked_at: null }])

    const before = await app.inject({ method: 'GET', url: '/v1/me', headers: bearer(key) })
    t.equal(before.statusCode, 200)
    t.match(before.json(), { kind: 'tenant', tenant_id: tenantId, key_id: keyId, scopes: ['read'] })
    const del = await app.inject({ method: 'DELETE', url: `/v1/api-keys/${keyId}`, headers: admin })
    t.equal(del.statusCode, 204)
    const after = await app.inject({ method: 'GET', url: '/v1/me', headers: bearer(key) })
    t.equal(after.statusCode, 401)
    const missing = await app.inject({ method: 'DELETE', url: '/v1/api-keys/key_missing', headers: admin })
    t.equal(missing.statusCode, 404)
  })

  t.test('key creation for an unknown tenant is 404 and scopes are validated', async (t) => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/tenants/nobody/api-keys',
      headers: admin,
      payload: { name: 'x', scopes: ['read'] },
    })
    t.equal(res.statusCode, 404)
    const bad = await app.inject({
      method: 'POST',
      url: '/v1/tenants/nobody/api-keys',
      headers: admin,
      payload: { name: 'x', scopes: ['write'] },
    })
    t.equal(bad.statusCode, 400)
  })

  // The path's tenant id was any string (up to the router's 4,096 characters) and came back whole in the 404
  // detail: `X-Tenant-Id` has been held to the tenant id's form since round 21, the path now is too.
  t.test('a path id that cannot name a tenant or a key is a 400 naming the parameter, without echoing it', async (t) => {
    const long = `${'Z'.repeat(3000)}\u0000`
    for (const [method, url, path] of [
      ['POST', `/v1/tenants/${encodeURIComponent(long)}/api-keys`, 'params.id'],
      ['GET', `/v1/tenants/${encodeURIComponent(long)}/api-keys`, 'params.id'],
      ['GET', '/v1/tenants/Acme/api-keys', 'params.id'],
      ['DELETE', `/v1/api-keys/${'k'.repeat(3000)}`, 'params.keyId'],
    ] as const) {
      const res = await app.inject({ method, url, headers: admin, ...(method === 'POST' ? { payload: { name: 'x', scopes: ['read'] } } : {}) })
      t.equal(res.statusCode, 400, `${method} ${url.slice(0, 40)}…`)
      t.ok(isProblem(res))
      t.same(res.json<{ errors: { path: string }[] }>().errors.map((e) => e.path), [path])
      const { instance: _path, ...said } = res.json<Record<string, unknown>>()
      t.notMatch(JSON.stringify(said), /ZZZZ|kkkk|Acme/, 'the id is not echoed (beside `instance`, the request’s path)')
    }
    const unknown = await app.inject({ method: 'GET', url: '/v1/tenants/nobody/api-keys', headers: admin })
    t.equal(unknown.statusCode, 404, 'a well-formed id of no tenant is still a 404')
  })
})
