import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import type { DbClient } from '../../src/db/client.js'
import { admin, bearer, build, eachEngine, onEnUsDatabase, tenantWithKey } from '../helpers.js'
import { byCodePoint } from '../factories/code-point-order.js'

/**
 * Tenants (by id), rate cards (by name) and a tenant's API keys created at the same instant (by id) are
 * listed in code-point order, on every engine and whatever the database's collation — as budgets are
 * (test/budgets/list-order.test.ts). They were ordered by the column's collation, the database's default:
 * C on PGlite, often en_US on PostgreSQL, where `a_x` sorts before `a-x` and `a0` before `a_b`, and `a`
 * before `B`. PostgreSQL is also tested on a database whose default collation is ICU's en-US.
 */

// Ids and names that en-US orders otherwise: the punctuation they may hold (tenant ids and card names are
// lower case; a card name may hold "." too).
const TENANT_IDS = ['b', 'a', 'a-x', 'a_x', 'ax', '9', 'a0', 'a-b', 'a_b', 'z']
const CARD_NAMES = [...TENANT_IDS, 'a.x', 'a.b']
// Key ids are generated (`key_` and base64url: both cases, "-" and "_").
const KEY_IDS = ['key_b', 'key_B', 'key_a', 'key_A', 'key_a-x', 'key_a_x', 'key_9', 'key_Z', 'key_a0']
// The oracle: JavaScript compares strings by UTF-16 code unit, which is the code point for these names.

const enUs = new Intl.Collator('en-US').compare
for (const [what, names] of [['tenant ids', TENANT_IDS], ['card names', CARD_NAMES], ['key ids', KEY_IDS]] as const)
  t.notSame([...names].sort(enUs), byCodePoint(names), `the ${what} are ordered otherwise by en-US`)

async function listsInCodePointOrder(t: Test, server: FastifyInstance & { testDb: DbClient }): Promise<void> {
  // Tenants, by id.
  for (const id of TENANT_IDS) {
    const res = await server.inject({ method: 'POST', url: '/v1/tenants', headers: admin, payload: { id, name: id } })
    t.equal(res.statusCode, 201, `tenant ${id} created`)
  }
  const tenants = await server.inject({ method: 'GET', url: '/v1/tenants', headers: admin })
  t.equal(tenants.statusCode, 200, 'GET /v1/tenants answers')
  const ids = (tenants.json() as { data: { id: string }[] }).data.map((x) => x.id)
  t.same(ids.filter((id) => TENANT_IDS.includes(id)), byCodePoint(TENANT_IDS), 'GET /v1/tenants: by id in code-point order')
  t.same(ids, byCodePoint(ids), 'GET /v1/tenants: every tenant in code-point order')

  // Rate cards, by name: the tenant's own and the global ones, as the tenant and as the admin for it.
  const { tenantId, key } = await tenantWithKey(server)
  const forTenant = { ...admin, 'x-tenant-id': tenantId }
  for (const name of CARD_NAMES) {
    const res = await server.inject({ method: 'PUT', url: `/v1/rate-cards/${name}`, headers: forTenant, payload: { description: name } })
    t.equal(res.statusCode, 201, `card ${name} created`)
  }
  for (const [who, headers] of [['the tenant', bearer(key)], ['the admin for it', forTenant]] as const) {
    const cards = await server.inject({ method: 'GET', url: '/v1/rate-cards', headers })
    t.equal(cards.statusCode, 200, `GET /v1/rate-cards as ${who} answers`)
    const names = (cards.json() as { data: { name: string }[] }).data.map((c) => c.name)
    t.same(names.filter((n) => CARD_NAMES.includes(n)), byCodePoint(CARD_NAMES), `GET /v1/rate-cards as ${who}: by name in code-point order`)
    t.same(names, byCodePoint(names), `GET /v1/rate-cards as ${who}: global cards among them in code-point order`)
  }

  // API keys: oldest first, and keys created at the same instant by id. Keys are created one request
  // apiece (distinct instants), so the instant and the ids are set here to make the tie.
  const owner = TENANT_IDS[0]!
  for (let i = 0; i < KEY_IDS.length; i++) {
    const res = await server.inject({ method: 'POST', url: `/v1/tenants/${owner}/api-keys`, headers: admin, payload: { name: 'tie', scopes: ['read'] } })
    t.equal(res.statusCode, 201, 'key created')
  }
  await server.testDb.query(
    `update api_keys k set id = n.id, created_at = '2026-01-01T00:00:00Z'
       from (select id as old, row_number() over (order by id) as i from api_keys where tenant_id = $1) o
       join unnest($2::text[]) with ordinality as n(id, i) on n.i = o.i
      where k.id = o.old`,
    [owner, KEY_IDS],
  )
  const later = await server.inject({ method: 'POST', url: `/v1/tenants/${owner}/api-keys`, headers: admin, payload: { name: 'later', scopes: ['read'] } })
  t.equal(later.statusCode, 201, 'a later key created')
  const keys = await server.inject({ method: 'GET', url: `/v1/tenants/${owner}/api-keys`, headers: admin })
  t.equal(keys.statusCode, 200, 'GET /v1/tenants/{id}/api-keys answers')
  t.same(
    (keys.json() as { data: { id: string }[] }).data.map((k) => k.id),
    [...byCodePoint(KEY_IDS), (later.json() as { id: string }).id],
    'GET /v1/tenants/{id}/api-keys: the tie by id in code-point order, the later key last',
  )
}

void eachEngine(t, async (t, engine) => {
  await listsInCodePointOrder(t, await build(t, engine))
  if (engine === 'postgres') await onEnUsDatabase(t, [...TENANT_IDS, ...KEY_IDS], {}, listsInCodePointOrder)
})
