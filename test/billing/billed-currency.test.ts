import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

/**
 * A billed amount's currency is read by one rule in every cost format: a blank one is refused (naming the
 * row), never taken for USD; `usd` in any case and padding is USD.
 */

const D0 = 1759795200 // 2025-10-07
const DAY = 86_400
const HEADER = 'start_time,end_time,amount_value,amount_currency,line_item,organization_id'
const page = (currency: unknown) => ({
  object: 'page',
  data: [{ object: 'bucket', start_time: D0, end_time: D0 + DAY, results: [{ object: 'organization.costs.result', amount: { value: '1.5', currency }, line_item: 'x' }] }],
})

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { tenantId, key } = await tenantWithKey(app, ['ingest'])
  const post = (payload: string, type: string) =>
    app.inject({ method: 'POST', url: '/v1/billing/costs', headers: { ...bearer(key), 'content-type': type }, payload })
  const stored = async () => (await app.testDb.query<{ n: number }>('select count(*)::int as n from billed_costs where tenant_id = $1', [tenantId]))[0]!.n
  const clear = () => app.testDb.query('delete from billed_costs where tenant_id = $1', [tenantId])

  await t.test('a cost CSV row with an amount and a blank currency is a 400 naming its line; nothing is written', async (t) => {
    const csv = `${HEADER}\n${D0},${D0 + DAY},1.5,usd,x,org\n${D0},${D0 + DAY},2,,y,org\n${D0},${D0 + DAY},2.5,  ,z,org\n`
    const res = await post(csv, 'text/csv')
    t.equal(res.statusCode, 400, res.body)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.same((res.json() as { errors: { line: number; path: string }[] }).errors.map((e) => [e.line, e.path]), [[3, 'amount_currency'], [4, 'amount_currency']])
    t.equal(await stored(), 0)
  })

  await t.test('a blank currency in a costs page is refused alike', async (t) => {
    const res = await post(JSON.stringify(page('')), 'application/json')
    t.equal(res.statusCode, 400, res.body)
    t.same((res.json() as { errors: { index: number; path: string }[] }).errors.map((e) => [e.index, e.path]), [[0, 'data.0.results.0.amount.currency']])
    t.equal(await stored(), 0)
  })

  await t.test('"usd" in any case, padded, is USD in both formats; a row without an amount still skips with its blank currency', async (t) => {
    const csv = `${HEADER}\n${D0},${D0 + DAY},1.5, USD ,x,org\n${D0},${D0 + DAY},,,,\n`
    t.same((await post(csv, 'text/csv')).json(), { received: 2, skipped: 1, created: 1, replaced: 0, unchanged: 0 })
    t.same((await post(JSON.stringify(page(' Usd ')), 'application/json')).json(), { received: 1, skipped: 0, created: 1, replaced: 0, unchanged: 0 })
    await clear()
  })

  await t.test('a cost CSV without an amount_currency column states no currency: its amounts are USD', async (t) => {
    const res = await post(`start_time,end_time,amount_value,line_item\n${D0},${D0 + DAY},1.5,x\n`, 'text/csv')
    t.same(res.json(), { received: 1, skipped: 0, created: 1, replaced: 0, unchanged: 0 })
    const [row] = await app.testDb.query<{ currency: string }>('select currency from billed_costs where tenant_id = $1', [tenantId])
    t.equal(row!.currency, 'USD')
    await clear()
  })
})
