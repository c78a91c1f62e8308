import t from 'tap'
import { defaultCardRates, planImport } from '../../src/pricing/catalog/default-card.js'
import { insertRates, listRates } from '../../src/db/queries/rate-cards.js'
import { admin, bearer, build, eachEngine, tenantWithKey } from '../helpers.js'
import { usageCosts } from '../factories/rate-cards.js'

/**
 * A newer catalog that no longer lists a price segment (or a whole model): re-importing it must stop
 * that segment's price from pricing usage (the catalog's earlier segment takes over, or nothing does),
 * while `pricingAsOf` before the re-import still prices with it. Before, the dropped rate stayed in
 * force and the re-import wrote nothing.
 */
void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const tenant = await tenantWithKey(app)
  const [card] = await app.testDb.query<{ id: number }>("select id from rate_cards where name = 'default'")
  const bucket = { start_time: '2025-06-10T00:00:00Z', end_time: '2025-06-10T01:00:00Z', model: 'o3', input_tokens: 1_000_000 }
  t.equal((await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(tenant.key), payload: { buckets: [bucket] } })).statusCode, 200)
  const cost = async (asOf?: string) =>
    (await usageCosts(t, app, tenant.key, { from: '2025-06-10T00:00:00Z', to: '2025-06-11T00:00:00Z', window: 'TOTAL', asOf }))[0]
  const reimport = async (catalog: ReturnType<typeof defaultCardRates>) => {
    const { rates: plan } = planImport(await listRates(app.testDb, card!.id), catalog)
    await insertRates(app.testDb, card!.id, plan)
    return plan
  }
  const isO3 = (r: { provider: string; model: string; serviceTier: string; batch: boolean }) =>
    r.provider === 'openai' && r.model === 'o3' && r.serviceTier === 'default' && !r.batch
  const cut = new Date('2025-06-10T00:00:00Z').getTime()

  t.same(await cost(), { total: '2', complete: true }, 'o3 is $2 per 1M input from 2025-06-10 in the installed catalog')
  const before = new Date().toISOString()
  await new Promise((r) => setTimeout(r, 5))

  t.test('a dropped segment gives way to the catalog’s earlier one; history as of before stays', async (t) => {
    const newer = defaultCardRates().filter((r) => !(isO3(r) && r.effectiveFrom.getTime() === cut))
    const plan = await reimport(newer)
    t.match(plan, [{ model: 'o3', effectiveFrom: new Date(cut), prices: { input: '10', output: '40' } }])
    t.same(await cost(), { total: '10', complete: true }, 'priced by the segment the newer catalog has in force there')
    t.same(await cost(before), { total: '2', complete: true }, 'pricingAsOf before the re-import is unchanged')
    t.same(await reimport(newer), [], 'importing the same catalog again writes nothing')
  })

  t.test('a dropped model is unpriced; an admin’s own rate on default is not the catalog’s to drop', async (t) => {
    const own = await app.inject({
      method: 'POST',
      url: '/v1/rate-cards/default/rates',
      headers: admin,
      payload: { rates: [{ model: 'in-house-model', effective_from: '2025-01-01T00:00:00Z', prices: { input: '1' } }] },
    })
    t.equal(own.statusCode, 201, own.body)
    const newer = defaultCardRates().filter((r) => !isO3(r))
    const plan = await reimport(newer)
    t.ok(plan.length > 0 && plan.every((r) => isO3(r) && Object.keys(r.prices).length === 0), JSON.stringify(plan.map((r) => [r.model, r.prices])))
    t.same(await cost(), { total: '0', complete: false }, 'never the dropped figure')
    t.same(await cost(before), { total: '2', complete: true })
    t.same(await reimport(newer), [])
  })
})
