import { eq } from 'drizzle-orm'
import t from 'tap'
import { orm } from '../../src/db/orm.js'
import { budgets, connections, rateCards, tenants } from '../../src/db/schema.js'
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

  t.test('jsonb written through the builder is stored as JSON, not as a JSON string (both engines)', async (t) => {
    const id = uniqueId('c')
    const endpoints = ['completions', 'costs']
    const [row] = await orm(db, (d) =>
      d
        .insert(connections)
        .values({
          tenantId, id, name: id, provider: 'openai', adminKeySealed: 'sealed', adminKeyLast4: 'abcd', baseUrl: 'http://127.0.0.1:1',
          startDate: new Date('2026-01-01T00:00:00Z'), intervalMinutes: 60, lagHours: 2, bucketWidth: '1h', endpoints, lastRun: { status: 'x "quoted"' },
        })
        .returning(),
    )
    t.same(row!.endpoints, endpoints)
    const [stored] = await db.query<{ e: string; l: string; first: string; status: string }>(
      `select jsonb_typeof(endpoints) as e, jsonb_typeof(last_run) as l, endpoints ->> 0 as first, last_run ->> 'status' as status
       from connections where tenant_id = $1 and id = $2`,
      [tenantId, id],
    )
    t.same(stored, { e: 'array', l: 'object', first: 'completions', status: 'x "quoted"' })
    // A JSON text given as a parameter to a jsonb column is the value it spells, on both engines.
    await db.query(`update connections set synced_until = $3 where tenant_id = $1 and id = $2`, [tenantId, id, '{"completions":null}'])
    const [again] = await db.query<{ t: string }>(`select jsonb_typeof(synced_until) as t from connections where tenant_id = $1 and id = $2`, [tenantId, id])
    t.equal(again!.t, 'object')
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
