import { randomBytes } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import app from '../../src/app.js'
import { createPostgresDb } from '../../src/db/client.js'
import { migrate } from '../../src/db/migrate.js'
import { routerErrorOptions } from '../../src/plugins/errors.js'
import { bearer, build, eachEngine, tenantWithKey, testConfig } from '../helpers.js'
import { withDatabase } from '../setup/templates.js'
import { putBudget } from '../factories/budgets.js'

/**
 * Budgets are listed by name in code-point order, on every engine and whatever the database's collation.
 * The list was ordered by the column's collation, which is the database's default: C on PGlite, often
 * en_US on PostgreSQL, where `a` sorts before `B` and `a_x` before `a-x` — the same budgets came back in
 * another order per engine and installation. PostgreSQL is also tested on a database whose default
 * collation is ICU's en-US, as such clusters have.
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

  if (engine !== 'postgres') return
  const base = process.env.TEST_DATABASE_URL!
  const admin = createPostgresDb({ url: base, poolSize: 1 })
  t.teardown(() => admin.close())
  const icu = (await admin.query(`select 1 from pg_collation where collprovider = 'i' limit 1`)).length > 0
  await t.test('on a database whose default collation is ICU en-US', { skip: icu ? false : 'this PostgreSQL has no ICU' }, async (t) => {
    const name = `${new URL(base).pathname.slice(1) || 'tokenledger'}_icu_${randomBytes(5).toString('hex')}`
    await admin.query(`create database "${name}" template template0 locale_provider icu icu_locale 'en-US'`)
    const db = createPostgresDb({ url: withDatabase(base, name), poolSize: 4 })
    t.teardown(async () => {
      await db.close()
      await admin.query(`drop database if exists "${name}" with (force)`)
    })
    // The setup is what it claims: this database orders the names by en-US, not by code point.
    const [sorted] = await db.query<{ names: string[] }>('select array_agg(n order by n) as names from unnest($1::text[]) n', [NAMES])
    t.same(sorted?.names, [...NAMES].sort(new Intl.Collator('en-US').compare), 'the database sorts text by en-US')
    await migrate(db)
    const config = testConfig(CONFIG)
    const server = Fastify({ ...routerErrorOptions, logger: false, bodyLimit: config.BODY_LIMIT, pluginTimeout: 120_000 })
    t.teardown(() => server.close())
    await server.register(app, { config, db })
    await server.ready()
    await listsInCodePointOrder(t, server)
  })
})
