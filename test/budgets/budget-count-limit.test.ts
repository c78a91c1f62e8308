import t from 'tap'
import { bearer, build, eachEngine, isProblem, tenantWithKey } from '../helpers.js'
import { MAX_BUDGETS_PER_TENANT } from '../../src/db/queries/budgets.js'

/**
 * Every budget is evaluated on each timer pass, in one loop shared by all tenants, and read one by one by
 * GET /v1/budgets: a tenant creating budgets without bound delayed every other tenant's alerts. A tenant
 * holds at most MAX_BUDGETS_PER_TENANT; a new name past it is a 409 that writes nothing, while updating an
 * existing budget, or creating one after a delete, still works — and another tenant is not affected.
 */

const CONFIG = { BUDGET_EVALUATION_INTERVAL_MS: 'off' }
const BODY = { amount: '100', period: 'month', time_zone: 'UTC', rate_card: 'default', thresholds: [80] }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, CONFIG)
  const { tenantId, key } = await tenantWithKey(app)
  const other = await tenantWithKey(app)
  const put = (name: string, k = key, amount = '100') =>
    app.inject({ method: 'PUT', url: `/v1/budgets/${name}`, headers: bearer(k), payload: { ...BODY, amount } })
  const count = async (tenant: string) =>
    Number((await app.testDb.query<{ n: string }>('select count(*)::text as n from budgets where tenant_id = $1', [tenant]))[0]!.n)

  // All but one of the allowance, stored directly (a thousand PUTs would only slow the test).
  await app.testDb.query(
    `insert into budgets (tenant_id, id, name, amount, period, time_zone, filter, rate_card, thresholds)
     select $1, 'seed-' || i, 'seed-' || i, 100, 'month', 'UTC', '{}'::jsonb, 'default', '{80}'::int[] from generate_series(1, $2::int - 1) as i`,
    [tenantId, MAX_BUDGETS_PER_TENANT],
  )
  t.equal((await put('last')).statusCode, 201, 'the last one the allowance holds')
  t.equal(await count(tenantId), MAX_BUDGETS_PER_TENANT)

  const refused = await put('one-too-many')
  t.equal(refused.statusCode, 409)
  t.ok(isProblem(refused), refused.body)
  t.match(refused.json().detail, /holds 1,000 budgets, the most it may/)
  t.equal(await count(tenantId), MAX_BUDGETS_PER_TENANT, 'nothing written')
  t.equal((await app.inject({ method: 'GET', url: '/v1/budgets/one-too-many', headers: bearer(key) })).statusCode, 404)

  const updated = await put('seed-1', key, '250')
  t.equal(updated.statusCode, 200, 'an existing budget is still updated at the limit')
  t.equal(updated.json().amount, '250')

  t.equal((await put('elsewhere', other.key)).statusCode, 201, "another tenant's allowance is its own")

  t.equal((await app.inject({ method: 'DELETE', url: '/v1/budgets/seed-2', headers: bearer(key) })).statusCode, 204)
  t.equal((await put('one-too-many')).statusCode, 201, 'after a delete, a new budget fits again')
  t.equal(await count(tenantId), MAX_BUDGETS_PER_TENANT)
})
