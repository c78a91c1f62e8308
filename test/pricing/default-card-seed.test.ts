import t from 'tap'
import { ensureDefaultCard } from '../../src/pricing/catalog/default-card.js'
import { build, eachEngine } from '../helpers.js'

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const db = app.testDb
  const count = async () =>
    (await db.query<{ n: number }>("select count(*)::int8 as n from rates r join rate_cards c on c.id = r.card_id where c.name = 'default'"))[0]!.n

  t.test('instances seeding at once write each catalog rate exactly once', async (t) => {
    const seeded = await count()
    await db.query("delete from rates where card_id = (select id from rate_cards where name = 'default')")
    await db.query("delete from rate_cards where name = 'default'")
    const results = await Promise.all([ensureDefaultCard(db), ensureDefaultCard(db), ensureDefaultCard(db)])
    t.equal(results.reduce((n, r) => n + r.inserted, 0), seeded, 'one instance inserts, the others find it done')
    t.equal(await count(), seeded)
    const dupes = await db.query(
      `select provider, model, service_tier, batch, context_tier, inference_geo, effective_from from rates
       group by card_id, provider, model, service_tier, batch, context_tier, inference_geo, effective_from having count(*) > 1`,
    )
    t.same(dupes, [])
  })
})
