import t from 'tap'
import { createKeyLookup } from '../../src/auth/key-lookup.js'
import { hashSecret } from '../../src/auth/tokens.js'
import type { Db } from '../../src/db/client.js'
import { createApiKey, createTenant, revokeApiKey } from '../../src/db/queries/tenants.js'
import { admin, bearer, build, eachEngine, freshDb, tenantWithKey, uniqueId } from '../helpers.js'

/** The real database, counting the statements sent through it. */
function counted(db: Db) {
  const counter = { queries: 0 }
  const wrapped: Db = {
    engine: db.engine,
    query: (...args) => {
      counter.queries++
      return db.query(...args)
    },
    transaction: (fn) => db.transaction(fn),
  }
  return { db: wrapped, counter }
}

void eachEngine(t, async (t, engine) => {
  const db = await freshDb(t, engine)
  const tenantId = uniqueId('tenant')
  await createTenant(db, { id: tenantId, name: tenantId })
  const key = async (scopes: string[]) => {
    const secret = uniqueId('secret')
    const row = await createApiKey(db, { id: uniqueId('key'), tenantId, name: 'k', keyHash: hashSecret(secret), scopes })
    return { hash: hashSecret(secret), id: row.id }
  }

  t.test('lookups asked in the same turn share one query; each gets its own answer', async (t) => {
    const [a, b, gone] = [await key(['ingest']), await key(['read']), await key(['ingest'])]
    await revokeApiKey(db, gone.id)
    const { db: c, counter } = counted(db)
    const lookup = createKeyLookup(c)
    const found = await Promise.all([a.hash, b.hash, a.hash, gone.hash, hashSecret('unknown')].map((h) => lookup.find(h)))
    t.equal(counter.queries, 1)
    t.same(found.map((k) => k?.scopes), [['ingest'], ['read'], ['ingest'], undefined, undefined])
  })

  t.test('a lookup asked after a revocation never joins a lookup that started before it', async (t) => {
    const k = await key(['ingest'])
    // The first lookup's answer is held back after its query ran, so it is still in flight below.
    let ran!: () => void
    let release!: () => void
    const queryRan = new Promise<void>((r) => (ran = r))
    const held = new Promise<void>((r) => (release = r))
    let first = true
    const gated: Db = {
      ...db,
      query: async <T>(...args: Parameters<Db['query']>) => {
        const rows = await db.query<T>(...args)
        if (first) {
          first = false
          ran()
          await held
        }
        return rows
      },
    }
    const lookup = createKeyLookup(gated)
    const before = lookup.find(k.hash)
    await queryRan
    await revokeApiKey(db, k.id)
    const after = lookup.find(k.hash)
    release()
    t.ok(await before, 'the earlier request saw the key as it was when it was looked up')
    t.equal(await after, undefined, 'the later request sees the revocation')
  })

  t.test('a failed lookup fails only its own requests; the next lookup runs', async (t) => {
    const k = await key(['ingest'])
    let calls = 0
    const flaky: Db = {
      ...db,
      query: async <T>(...args: Parameters<Db['query']>) => {
        if (calls++ === 0) throw Object.assign(new Error('connection lost'), { code: 'ECONNRESET' })
        return db.query<T>(...args)
      },
    }
    const lookup = createKeyLookup(flaky)
    const failed = lookup.find(k.hash)
    await t.rejects(failed, { code: 'ECONNRESET' })
    t.match(await lookup.find(k.hash), { id: k.id })
  })

  t.test('a key revoked between bursts of event requests is refused at once', async (t) => {
    const app = await build(t, engine)
    const one = await tenantWithKey(app, ['ingest'])
    const two = await tenantWithKey(app, ['ingest'])
    const post = (key: string, id: string) =>
      app.inject({
        method: 'POST',
        url: '/v1/usage/events',
        headers: bearer(key),
        payload: { events: [{ id, timestamp: '2026-03-01T10:00:00Z', model: 'gpt-4o', input_tokens: 1 }] },
      })
    const first = await Promise.all([post(one.key, 'e1'), post(two.key, 'e1')])
    t.same(first.map((r) => r.statusCode), [200, 200])
    const del = await app.inject({ method: 'DELETE', url: `/v1/api-keys/${one.keyId}`, headers: admin })
    t.equal(del.statusCode, 204)
    const second = await Promise.all([post(one.key, 'e2'), post(two.key, 'e2'), post(one.key, 'e3')])
    t.same(second.map((r) => r.statusCode), [401, 200, 401])
  })
})
