import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { bearer, build, eachEngine, onEnUsDatabase, tenantWithKey } from '../helpers.js'
import { putBudget } from '../factories/budgets.js'

/**
 * Budgets are listed by name in code-point order, on every engine and whatever the database's collation.
 * The list was ordered by the column's collation, which is the database's default: C on PGlite, often
 * en_US on PostgreSQL, where `a` sorts before `B` and `a_x` before `a-x` — the same budgets came back in
 * another order per engine and installation. PostgreSQL is also tested on a database whose default
 * collation is ICU's en-US, as such clusters have (onEnUsDatabase).
 */

const CONFIG = { BUDGET_EVALUATION_INTERVAL_MS: 'off' }
// Orders that differ between collations: case, and the punctuation a name may hold.
const NAMES = ['b', 'B', 'a', 'A', 'a-x', 'a_x', 'a.x', 'ax', '9', 'Z', 'a0']
// The oracle: JavaScript compares strings by UTF-16 code unit, which is the code point for these names.
const CODE_POINT_ORDER = [...NAMES].sort()

t.notSame([...NAMES].sort(new Intl.Collator('en-US').compare), CODE_POINT_ORDER, 'the names are ordered otherwise by en-US')

async function listsInCodePointOrder(t: Test, server: FastifyInstance): Promise<void> {
  const { key } = await tenantWithKey(server)
  for (const name of NAMES) await putBudget(server, key, name, { amount: '5', period: 'day' })
  const rest = await server.inject({ method: 'GET', url: '/v1/budgets', headers: bearer(key) })
  t.equal(rest.statusCode, 200, 'GET /v1/budgets answers')
  t.same((rest.json() as { data: { name: string }[] }).data.map((b) => b.name), CODE_POINT_ORDER, 'GET /v1/budgets: by code point')
  const gql = await server.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query: '{ budgets { name } }' } })
  const body = gql.json() as { data: { budgets: { name: string }[] }; errors?: unknown }
  t.equal(body.errors, undefined, 'GraphQL budgets answers')
  t.same(body.data.budgets.map((b) => b.name), CODE_POINT_ORDER, 'GraphQL budgets: by code point')
}

void eachEngine(t, async (t, engine) => {
  await listsInCodePointOrder(t, await build(t, engine, CONFIG))

  if (engine === 'postgres') await onEnUsDatabase(t, NAMES, CONFIG, listsInCodePointOrder)
})
