import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import type { DbClient } from '../../src/db/client.js'
import { eachEngine, onEnUsDatabase } from '../helpers.js'
import { buildWith, createConnection, OPENAI_KEY, SYNC_CONFIG, tenant } from './support/harness.js'
import { byCodePoint } from '../factories/code-point-order.js'

/**
 * A tenant's connections (GET /v1/connections, GraphQL `connections`) are listed oldest first, and those
 * created at the same instant by id in code-point order — on every engine and whatever the database's
 * collation, as API keys are (test/routes/list-order.test.ts). The tie was broken by the id column's
 * collation: C on PGlite, often en_US on PostgreSQL, where `conn_a` sorts before `conn_B` and `conn_a_x`
 * before `conn_a-x`. PostgreSQL is also tested on a database whose default collation is ICU's en-US.
 */

// Connection ids are generated (`conn_` and base64url: both cases, "-" and "_").
const IDS = ['conn_b', 'conn_B', 'conn_a', 'conn_A', 'conn_a-x', 'conn_a_x', 'conn_9', 'conn_Z', 'conn_a0']
// The oracle: JavaScript compares strings by UTF-16 code unit, which is the code point for these ids.

t.notSame([...IDS].sort(new Intl.Collator('en-US').compare), byCodePoint(IDS), 'the ids are ordered otherwise by en-US')

async function listedInCodePointOrder(t: Test, app: FastifyInstance & { testDb: DbClient }): Promise<void> {
  const { tenantId, headers } = await tenant(app)
  for (let i = 0; i < IDS.length; i++)
    await createConnection(app, headers, { name: `tie-${i}`, provider: 'openai', admin_key: OPENAI_KEY, account_id: 'org-1', start_date: '2026-01-01' })
  // Connections are created one request apiece (distinct instants), so the instant and the ids are set here to make the tie.
  await app.testDb.query(
    `update connections c set id = n.id, created_at = '2026-01-01T00:00:00Z'
       from (select id as old, row_number() over (order by id) as i from connections where tenant_id = $1) o
       join unnest($2::text[]) with ordinality as n(id, i) on n.i = o.i
      where c.tenant_id = $1 and c.id = o.old`,
    [tenantId, IDS],
  )
  const later = await createConnection(app, headers, { name: 'later', provider: 'openai', admin_key: OPENAI_KEY, account_id: 'org-1', start_date: '2026-01-01' })
  const expected = [...byCodePoint(IDS), later.id]

  const rest = await app.inject({ method: 'GET', url: '/v1/connections', headers })
  t.equal(rest.statusCode, 200, rest.body)
  t.same((rest.json() as { id: string }[]).map((c) => c.id), expected, 'GET /v1/connections: the tie by id in code-point order, the later one last')
  const gql = await app.inject({ method: 'POST', url: '/graphql', headers, payload: { query: '{ connections { id } }' } })
  const body = gql.json() as { data?: { connections: { id: string }[] }; errors?: unknown }
  t.equal(body.errors, undefined, gql.body)
  t.same(body.data?.connections.map((c) => c.id), expected, 'GraphQL connections: the tie by id in code-point order, the later one last')
}

void eachEngine(t, async (t, engine) => {
  await listedInCodePointOrder(t, await buildWith(t, engine))
  if (engine === 'postgres') await onEnUsDatabase(t, IDS, SYNC_CONFIG, listedInCodePointOrder)
})
