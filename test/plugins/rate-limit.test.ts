import Fastify from 'fastify'
import t from 'tap'
import app from '../../src/app.js'
import { routerErrorOptions } from '../../src/plugins/errors.js'
import { admin, bearer, build, eachEngine, freshDb, isProblem, tenantWithKey, testConfig } from '../helpers.js'

const LIMIT = 3
const bucket = { start_time: '2026-03-01T00:00:00Z', end_time: '2026-03-01T01:00:00Z', model: 'gpt-4o', input_tokens: 1 }

void eachEngine(t, async (t, engine) => {
  await t.test('per key: reads and ingest counted apart, 429 problem+json with Retry-After, admin exempt', async (t) => {
    const app = await build(t, engine, { RATE_LIMIT_PER_MINUTE: String(LIMIT) })
    const { key } = await tenantWithKey(app)
    const read = () => app.inject({ method: 'GET', url: '/v1/me', headers: bearer(key) })
    const ingest = () => app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(key), payload: { buckets: [bucket] } })

    for (let i = 0; i < LIMIT; i++) t.equal((await read()).statusCode, 200, `read ${i + 1}`)
    const limited = await read()
    t.equal(limited.statusCode, 429)
    t.ok(isProblem(limited))
    t.match(limited.json(), { status: 429, type: 'https://tokenledger.dev/problems/too-many-requests' })
    t.match(limited.headers['retry-after'], /^\d+$/)
    t.ok(Number(limited.headers['retry-after']) > 0 && Number(limited.headers['retry-after']) <= 60)

    for (let i = 0; i < LIMIT; i++) t.equal((await ingest()).statusCode, 200, `ingest ${i + 1} has its own budget`)
    t.equal((await ingest()).statusCode, 429)

    for (let i = 0; i < LIMIT * 3; i++) t.equal((await app.inject({ method: 'GET', url: '/v1/tenants', headers: admin })).statusCode, 200)
    t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'probes are not limited')
  })

  await t.test('bad or missing tokens are limited by address, however they vary', async (t) => {
    const app = await build(t, engine, { RATE_LIMIT_PER_MINUTE: String(LIMIT) })
    const codes: number[] = []
    for (let i = 0; i < LIMIT + 3; i++) {
      const headers = i % 2 ? bearer(`tl_bogus_${i}`) : {}
      codes.push((await app.inject({ method: 'GET', url: '/v1/me', headers })).statusCode)
    }
    t.same(codes, [...Array(LIMIT).fill(401), 429, 429, 429])
  })

  await t.test("another client's bad tokens never use up the budget of a key not seen yet", async (t) => {
    // Unseen keys were keyed by address until their first success: behind a proxy (one address), a
    // client sending bad tokens got every new key — and every key after a restart — a 429.
    const app = await build(t, engine, { RATE_LIMIT_PER_MINUTE: String(LIMIT) })
    const { key } = await tenantWithKey(app)
    for (let i = 0; i <= LIMIT; i++) await app.inject({ method: 'GET', url: '/v1/me', headers: bearer(`tl_bogus_${i}`) })
    t.equal((await app.inject({ method: 'GET', url: '/v1/me', headers: bearer('tl_bogus_x') })).statusCode, 429, 'the address is limited')
    const codes: number[] = []
    for (let i = 0; i <= LIMIT; i++) codes.push((await app.inject({ method: 'GET', url: '/v1/me', headers: bearer(key) })).statusCode)
    t.same(codes, [...Array(LIMIT).fill(200), 429], 'the key has its own budget from its first request')
    const revoked = await tenantWithKey(app)
    t.equal((await app.inject({ method: 'DELETE', url: `/v1/api-keys/${revoked.keyId}`, headers: admin })).statusCode, 204)
    t.equal((await app.inject({ method: 'GET', url: '/v1/me', headers: bearer(revoked.key) })).statusCode, 429, 'a revoked key counts as a bad token')
  })

  await t.test('pages that need no token are served while the database is not ready', async (t) => {
    // The limiter authenticated every request, public pages included, and authenticating waits for a
    // migrated database: with it unreachable (or a migration refused) the dashboard, /docs and GraphiQL
    // answered 503, though they touch no database. A migration edited after it was applied keeps the
    // server unmigrated on either engine.
    const db = await freshDb(t, engine)
    await db.query(`update tokenledger_migrations set hash = 'edited' where tag = (select min(tag) from tokenledger_migrations)`)
    const server = Fastify({ ...routerErrorOptions, logger: false, pluginTimeout: 120_000 })
    await server.register(app, { config: testConfig({ RATE_LIMIT_PER_MINUTE: String(LIMIT) }), db })
    await server.ready()
    t.teardown(() => server.close())
    for (const url of ['/', '/docs/json', '/graphiql']) t.equal((await server.inject(url)).statusCode, 200, `${url} is served`)
    const me = await server.inject({ url: '/v1/me', headers: admin })
    t.equal(me.statusCode, 503, 'a route that needs the database still answers 503')
    t.ok(me.headers['retry-after'])
    const codes: number[] = []
    for (let i = 0; i <= LIMIT; i++) codes.push((await server.inject({ url: '/v1/tenants', remoteAddress: '192.0.2.7' })).statusCode)
    t.same(codes, [...Array(LIMIT).fill(503), 429], 'requests without a token are still limited by address')
  })

  await t.test('RATE_LIMIT_PER_MINUTE=off disables the limit', async (t) => {
    const app = await build(t, engine, { RATE_LIMIT_PER_MINUTE: 'off' })
    const { key } = await tenantWithKey(app)
    for (let i = 0; i < 20; i++) t.equal((await app.inject({ method: 'GET', url: '/v1/me', headers: bearer(key) })).statusCode, 200)
  })
})
