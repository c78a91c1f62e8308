import t from 'tap'
import { admin, bearer, build, eachEngine, isProblem, tenantWithKey, uniqueId } from '../helpers.js'

const put = (card: string, headers: Record<string, string>, payload: unknown = { description: 'd', currency: 'USD' }) => ({
  method: 'PUT' as const,
  url: `/v1/rate-cards/${card}`,
  headers,
  payload: payload as object,
})
const rate = { model: 'm-1', effective_from: '2025-01-01T00:00:00Z', prices: { input: '1' } }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const a = await tenantWithKey(app, ['read'])
  const b = await tenantWithKey(app, ['read'])
  const asAdminFor = (tenantId: string) => ({ ...admin, 'x-tenant-id': tenantId })

  t.test('creates a global card (201), updates it (200), and refuses non-USD', async (t) => {
    const name = uniqueId('card')
    const created = await app.inject(put(name, admin, { description: 'first' }))
    t.equal(created.statusCode, 201)
    t.match(created.json(), { name, scope: 'global', tenant_id: null, description: 'first', currency: 'USD' })
    const updated = await app.inject(put(name, admin, { description: 'second', currency: 'USD' }))
    t.equal(updated.statusCode, 200)
    t.equal(updated.json().description, 'second')
    const eur = await app.inject(put(uniqueId('card'), admin, { currency: 'EUR' }))
    t.equal(eur.statusCode, 400)
    t.ok(isProblem(eur))
    t.same(eur.json().errors.map((e: { path: string }) => e.path), ['body.currency'])
  })

  t.test('only the admin token changes cards', async (t) => {
    const res = await app.inject(put(uniqueId('card'), bearer(a.key)))
    t.equal(res.statusCode, 403)
    const none = await app.inject({ method: 'PUT', url: '/v1/rate-cards/x', payload: {} })
    t.equal(none.statusCode, 401)
    const post = await app.inject({ method: 'POST', url: '/v1/rate-cards/default/rates', headers: bearer(a.key), payload: { rates: [rate] } })
    t.equal(post.statusCode, 403)
  })

  t.test('a private card needs a known tenant', async (t) => {
    const res = await app.inject(put(uniqueId('card'), asAdminFor('no-such-tenant')))
    t.equal(res.statusCode, 404)
    t.ok(isProblem(res))
  })

  t.test('card names are unique across scopes (409)', async (t) => {
    const name = uniqueId('card')
    t.equal((await app.inject(put(name, asAdminFor(a.tenantId)))).statusCode, 201)
    t.equal((await app.inject(put(name, asAdminFor(a.tenantId)))).statusCode, 200, 'same tenant updates')
    const other = await app.inject(put(name, asAdminFor(b.tenantId)))
    t.equal(other.statusCode, 409)
    t.ok(isProblem(other))
    t.equal((await app.inject(put(name, admin))).statusCode, 409, 'a global card cannot take a private name')
    t.equal((await app.inject(put('default', asAdminFor(a.tenantId)))).statusCode, 409, 'a tenant cannot take a global name')
  })

  t.test('tenants see global cards and their own, never another tenant’s', async (t) => {
    const mine = uniqueId('a-card')
    t.equal((await app.inject(put(mine, asAdminFor(a.tenantId)))).statusCode, 201)
    const postA = await app.inject({ method: 'POST', url: `/v1/rate-cards/${mine}/rates`, headers: asAdminFor(a.tenantId), payload: { rates: [rate] } })
    t.equal(postA.statusCode, 201)

    const names = async (headers: Record<string, string>) => {
      const res = await app.inject({ method: 'GET', url: '/v1/rate-cards', headers })
      t.equal(res.statusCode, 200)
      return (res.json().data as { name: string }[]).map((c) => c.name)
    }
    const seenByA = await names(bearer(a.key))
    t.ok(seenByA.includes('default') && seenByA.includes(mine))
    const seenByB = await names(bearer(b.key))
    t.ok(seenByB.includes('default'))
    t.notOk(seenByB.includes(mine), 'B cannot list A’s card')
    t.notOk((await names(admin)).includes(mine), 'the admin without X-Tenant-Id lists global cards')
    t.ok((await names(asAdminFor(a.tenantId))).includes(mine), 'the admin acting for A sees A’s cards')

    const getB = await app.inject({ method: 'GET', url: `/v1/rate-cards/${mine}/rates`, headers: bearer(b.key) })
    t.equal(getB.statusCode, 404)
    t.ok(isProblem(getB))
    const getA = await app.inject({ method: 'GET', url: `/v1/rate-cards/${mine}/rates?at=2025-06-01T00:00:00Z`, headers: bearer(a.key) })
    t.equal(getA.statusCode, 200)
    t.equal(getA.json().data.length, 1)
    const postB = await app.inject({ method: 'POST', url: `/v1/rate-cards/${mine}/rates`, headers: asAdminFor(b.tenantId), payload: { rates: [rate] } })
    t.equal(postB.statusCode, 404, 'the admin acting for B cannot reach A’s card either')
    const spoof = await app.inject({ method: 'GET', url: '/v1/rate-cards', headers: { ...bearer(b.key), 'x-tenant-id': a.tenantId } })
    t.equal(spoof.statusCode, 403)
  })

  t.test('listing needs the read scope', async (t) => {
    const ingestOnly = await tenantWithKey(app, ['ingest'])
    const res = await app.inject({ method: 'GET', url: '/v1/rate-cards', headers: bearer(ingestOnly.key) })
    t.equal(res.statusCode, 403)
    const rates = await app.inject({ method: 'GET', url: '/v1/rate-cards/default/rates', headers: bearer(ingestOnly.key) })
    t.equal(rates.statusCode, 403)
    const anon = await app.inject({ method: 'GET', url: '/v1/rate-cards' })
    t.equal(anon.statusCode, 401)
  })

  t.test('an unknown card is 404', async (t) => {
    const res = await app.inject({ method: 'GET', url: '/v1/rate-cards/nope/rates', headers: bearer(a.key) })
    t.equal(res.statusCode, 404)
    const post = await app.inject({ method: 'POST', url: '/v1/rate-cards/nope/rates', headers: admin, payload: { rates: [rate] } })
    t.equal(post.statusCode, 404)
  })
})
