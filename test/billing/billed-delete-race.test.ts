import t from 'tap'
import { lockAccountsOf } from '../../src/db/queries/buckets.js'
import { bearer, build, otherSession, tenantWithKey, waitUntilBlocked } from '../helpers.js'

// DELETE /v1/billing/costs beside an upload of the same account. An upload writes under its accounts'
// advisory locks, 5,000 rows per statement (upsertBilledCosts), so a large one holds the rows of its
// first statements while it writes the next. The delete took no lock: it deleted the rows it reached
// first, then waited for a row the upload held, while the upload's next statement waited for a row the
// delete had taken — a deadlock, and PostgreSQL aborted the delete: a 500, nothing deleted. (The bucket
// delete takes the accounts' locks first for this reason; the billed one now does too, so it waits for
// the upload to commit and then deletes what is stored.) PostgreSQL only: PGlite runs one statement at
// a time.

const DAY = 86_400
const D0 = 1759795200 // 2025-10-07
const page = (start: number, value: string) => ({
  object: 'page',
  data: [{ object: 'bucket', start_time: start, end_time: start + DAY, results: [{ object: 'organization.costs.result', amount: { value, currency: 'usd' }, line_item: 'gpt-x, input', project_id: null }] }],
  has_more: false,
  next_page: null,
})

t.test('a delete beside an upload of the same account waits for it, never deadlocks', { skip: !process.env.TEST_DATABASE_URL && 'TEST_DATABASE_URL is not set (PostgreSQL only)' }, async (t) => {
  const app = await build(t, 'postgres')
  const { tenantId, key } = await tenantWithKey(app, ['ingest', 'read'])
  const post = (payload: object) => app.inject({ method: 'POST', url: '/v1/billing/costs', headers: { ...bearer(key), 'content-type': 'application/json' }, payload: JSON.stringify(payload) })
  const del = (query: string) => app.inject({ method: 'DELETE', url: `/v1/billing/costs?${query}`, headers: bearer(key) })
  // Day 1 stored first, so the delete reaches it first in either plan (table order and start_time order).
  t.equal((await post(page(D0, '1.5'))).statusCode, 200)
  t.equal((await post(page(D0 + DAY, '2.5'))).statusCode, 200)

  const other = await otherSession(t, app.testDb)
  const deadlocks = async () =>
    (await app.testDb.query<{ n: number }>('select deadlocks::int8 as n from pg_stat_database where datname = current_database()'))[0]!.n
  const before = await deadlocks()

  // What the upload's transaction does, two of its statements apart: the accounts' locks (the real
  // call), then the rows of one statement, then — once the delete waits — the rows of the next.
  const touch = (tx: { query: typeof other.query }, start: number) =>
    tx.query(`update billed_costs set amount = amount + 1 where tenant_id = $1 and start_time = to_timestamp($2)`, [tenantId, start])
  let request: ReturnType<typeof del> | undefined
  await other.transaction(async (tx) => {
    // This session waits long before checking for deadlocks, so the delete's session would be the victim.
    await tx.query(`set local deadlock_timeout = '30s'`)
    await lockAccountsOf(tx, tenantId, [{ provider: 'openai', accountId: null }])
    await touch(tx, D0 + DAY)
    request = del(`start_time=${D0}&end_time=${D0 + 2 * DAY}`)
    await waitUntilBlocked(app.testDb, { pending: request })
    await touch(tx, D0)
  })
  const res = await request!
  t.equal(res.statusCode, 200, res.body)
  t.same(res.json(), { deleted: 2 }, 'the delete removed both days, after the upload committed')
  t.equal(await deadlocks(), before, 'no deadlock')
  const left = await app.testDb.query('select 1 from billed_costs where tenant_id = $1', [tenantId])
  t.equal(left.length, 0, 'nothing of the range is left')
})
