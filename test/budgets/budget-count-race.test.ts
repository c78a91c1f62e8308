import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'
import { MAX_BUDGETS_PER_TENANT } from '../../src/db/queries/budgets.js'

/**
 * The allowance was a count in the insert's own statement: concurrent PUTs of new names each counted the
 * budgets committed before them, so several took the last free place at once (on PostgreSQL; PGlite runs
 * one statement at a time) and the tenant ended above MAX_BUDGETS_PER_TENANT. Concurrent creations of one
 * tenant now take their places one after another.
 */

const CONFIG = { BUDGET_EVALUATION_INTERVAL_MS: 'off', DB_POOL_SIZE: '12' }
const BODY = { amount: '100', period: 'month', time_zone: 'UTC', rate_card: 'default', thresholds: [80] }
const CONCURRENT = 24
const ROUNDS = 8

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, CONFIG)
  const { tenantId, key } = await tenantWithKey(app)
  const count = async () =>
    Number((await app.testDb.query<{ n: string }>('select count(*)::text as n from budgets where tenant_id = $1', [tenantId]))[0]!.n)

  // All but one of the allowance, stored directly (a thousand PUTs would only slow the test).
  await app.testDb.query(
    `insert into budgets (tenant_id, id, name, amount, period, time_zone, filter, rate_card, thresholds)
     select $1, 'seed-' || i, 'seed-' || i, 100, 'month', 'UTC', '{}'::jsonb, 'default', '{80}'::int[] from generate_series(1, $2::int - 1) as i`,
    [tenantId, MAX_BUDGETS_PER_TENANT],
  )

  for (let round = 1; round <= ROUNDS; round++) {
    const answers = await Promise.all(
      Array.from({ length: CONCURRENT }, (_, i) =>
        app.inject({ method: 'PUT', url: `/v1/budgets/race-${round}-${i}`, headers: bearer(key), payload: BODY }),
      ),
    )
    const codes = answers.map((a) => a.statusCode)
    t.same(
      [codes.filter((c) => c === 201).length, codes.filter((c) => c === 409).length],
      [1, CONCURRENT - 1],
      `round ${round}: one PUT takes the last place, every other is a 409`,
    )
    t.equal(await count(), MAX_BUDGETS_PER_TENANT, `round ${round}: the tenant holds the allowance, not more`)
    // Free the last place again for the next round.
    await app.testDb.query(`delete from budgets where tenant_id = $1 and name like 'race-%'`, [tenantId])
    if (t.counts.fail > 0) break
  }
})
