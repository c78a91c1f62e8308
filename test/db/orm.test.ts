import { eq } from 'drizzle-orm'
import t from 'tap'
import { orm } from '../../src/db/orm.js'
import { budgets, rateCards, tenants } from '../../src/db/schema.js'
import { eachEngine, freshDb, uniqueId } from '../helpers.js'

void eachEngine(t, async (t, engine) => {
  const db = await freshDb(t, engine)
  const tenantId = uniqueId('tenant')
  await orm(db, (d) => d.insert(tenants).values({ id: tenantId, name: 'T' }))

  t.test('builder rows keep the engines’ shared types: int8 → number, numeric → decimal string, timestamptz → Date', async (t) => {
    const [card] = await orm(db, (d) => d.select().from(rateCards).where(eq(rateCards.name, 'default')))
    t.equal(typeof card!.id, 'number')
    t.ok(card!.createdAt instanceof Date)
    const amount = '12345678901234567890.123456789'
    const [budget] = await orm(db, (d) =>
      d
        .insert(budgets)
        .values({ tenantId, id: uniqueId('b'), name: 'n', amount, period: 'month', timeZone: 'UTC', filter: {}, rateCard: 'default', thresholds: [50, 100] })
        .returning(),
    )
    t.equal(budget!.amount, amount, 'exact, never a float')
    t.same(budget!.thresholds, [50, 100])
  })

  t.test('a failed statement rejects with the driver’s error (SQLSTATE kept), not drizzle’s wrapper', async (t) => {
    const err = await orm(db, (d) => d.insert(tenants).values({ id: tenantId, name: 'again' })).then(
      () => undefined,
      (e: unknown) => e as { code?: string; message: string },
    )
    t.equal(err?.code, '23505')
    t.notMatch(err?.message ?? '', /Failed query/)
  })

  t.test('runs inside the caller’s transaction', async (t) => {
    const id = uniqueId('tx')
    await t.rejects(
      db.transaction(async (tx) => {
        await orm(tx, (d) => d.insert(tenants).values({ id, name: 'x' }))
        throw new Error('roll back')
      }),
    )
    t.same(await orm(db, (d) => d.select().from(tenants).where(eq(tenants.id, id))), [])
  })
})
