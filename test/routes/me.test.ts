import type { AddressInfo } from 'node:net'
import t from 'tap'
import { admin, bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// GET /v1/me over a real socket: it describes the token, and X-Tenant-Id is checked as every tenant
// route checks it (src/auth/access.ts) — the admin token naming a tenant acts for it, an unknown tenant is
// a 404, a key naming another tenant a 403 — so what passes here is what the tenant routes accept.

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const a = await tenantWithKey(app, ['ingest'])
  const b = await tenantWithKey(app, ['read'])
  const me = async (headers: Record<string, string>) => {
    const res = await fetch(`${base}/v1/me`, { headers })
    return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as Record<string, unknown> }
  }
  // A tenant route, to compare verdicts with.
  const budgets = async (headers: Record<string, string>) => (await fetch(`${base}/v1/budgets`, { headers })).status

  await t.test('the admin token without X-Tenant-Id acts for no tenant', async (t) => {
    t.same((await me(admin)).body, { kind: 'admin', tenant_id: null, key_id: null, scopes: ['admin'] })
    t.same((await me({ ...admin, 'x-tenant-id': '' })).body, { kind: 'admin', tenant_id: null, key_id: null, scopes: ['admin'] }, 'an empty header names none')
  })

  await t.test('the admin token naming a tenant acts for it', async (t) => {
    const res = await me({ ...admin, 'x-tenant-id': b.tenantId })
    t.equal(res.status, 200)
    t.same(res.body, { kind: 'admin', tenant_id: b.tenantId, key_id: null, scopes: ['admin'] })
  })

  await t.test('the admin token naming an unknown tenant is a 404, as on tenant routes', async (t) => {
    const res = await me({ ...admin, 'x-tenant-id': 'no-such-tenant' })
    t.equal(res.status, 404)
    t.match(res.type, /^application\/problem\+json/)
    t.match(res.body, { status: 404, detail: 'tenant "no-such-tenant" does not exist' })
    t.equal(await budgets({ ...admin, 'x-tenant-id': 'no-such-tenant' }), 404)
  })

  await t.test('a key naming another tenant is a 403, as on tenant routes; naming its own is fine', async (t) => {
    const other = await me({ ...bearer(a.key), 'x-tenant-id': b.tenantId })
    t.equal(other.status, 403)
    t.match(other.type, /^application\/problem\+json/)
    t.match(other.body, { status: 403, detail: 'this key cannot act for another tenant' })
    t.equal(await budgets({ ...bearer(b.key), 'x-tenant-id': a.tenantId }), 403)
    const own = await me({ ...bearer(a.key), 'x-tenant-id': a.tenantId })
    t.equal(own.status, 200)
    t.same(own.body, { kind: 'tenant', tenant_id: a.tenantId, key_id: a.keyId, scopes: ['ingest'] })
  })

  await t.test('a key needs no scope to ask, and a bad token is a 401', async (t) => {
    t.same((await me(bearer(b.key))).body, { kind: 'tenant', tenant_id: b.tenantId, key_id: b.keyId, scopes: ['read'] })
    t.equal((await me(bearer('tl_key_not-a-key'))).status, 401)
    t.equal((await me({ 'x-tenant-id': a.tenantId })).status, 401)
  })
})
