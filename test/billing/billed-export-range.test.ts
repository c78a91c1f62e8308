import t from 'tap'
import type { Db } from '../../src/db/client.js'
import { billedCostsCsv } from '../../src/usage/report/billed-costs.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

/**
 * The billed-cost CSV export writes no line for a day without costs, but read its range 180 days per
 * statement whatever it held: an export from 1970 to 9999 ran 16,000 statements for two stored costs. It
 * now reads from one stored cost to the next. The server's database handle is counted here (every call
 * still goes to the real database).
 */
const DAY = 86_400
const D0 = 1_759_622_400 // 2025-10-05
const FAR = Date.UTC(2300, 0, 1) / 1000

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app, ['ingest', 'read'])
  const page = (start: number, value: string) => ({
    object: 'page', has_more: false, next_page: null,
    data: [{ object: 'bucket', start_time: start, end_time: start + DAY, results: [{ object: 'organization.costs.result', amount: { value, currency: 'usd' }, line_item: 'gpt-5, input', project_id: null }] }],
  })
  for (const [start, value] of [[D0, '1.25'], [D0 + 3 * DAY, '2'], [FAR, '3.5']] as const) {
    const res = await app.inject({ method: 'POST', url: '/v1/billing/costs?account_id=org-1', headers: bearer(key), payload: page(start, value) })
    t.equal(res.statusCode, 200, res.body.slice(0, 200))
  }

  let statements = 0
  const db = app.testDb
  const counted: Db = { engine: db.engine, query: (...args) => {
    statements++
    return db.query(...args)
  }, transaction: (fn) => db.transaction(fn) }
  let csv = ''
  for await (const chunk of billedCostsCsv(counted, { tenantId, query: { start_time: 0, end_time: 253_402_300_799, group_by: ['line_item'] } })) csv += chunk
  const lines = csv.trimEnd().split('\n')
  t.same(lines.slice(1).map((l) => l.split(',').slice(0, 1).concat(l.split(',').slice(4, 5))), [[String(D0), '1.25'], [String(D0 + 3 * DAY), '2'], [String(FAR), '3.5']],
    'every stored cost, in order, from 1970 to 9999')
  t.ok(statements <= 6, `a few statements, not one per 180 empty days (${statements})`)
})
