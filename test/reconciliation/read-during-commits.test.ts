import t from 'tap'
import { bearer, build, otherSession, tenantWithKey, waitUntilBlocked } from '../helpers.js'

/**
 * A reconciliation read is one moment of the ledger. It read the computed side, then the billed side,
 * in separate statements: a usage ingest and then a revised bill that both committed between the two
 * were half seen — the new bill against the old usage, a MISMATCH of a state that never existed (at
 * every moment the day either matched or lacked only its bill). Both sides are now read in one
 * repeatable-read transaction. The bill is held back by a lock on billed_costs so that the two commits
 * land, deterministically, between the reads. PostgreSQL only: PGlite runs one statement at a time.
 */

const DAY = 1759968000 // 2025-10-09T00:00:00Z
const HOUR = 3600
// gpt-4o-mini at list price: 1M input tokens = $0.15.
const usage = (hour: number) => ({ buckets: [{ start_time: DAY + hour * HOUR, end_time: DAY + (hour + 1) * HOUR, model: 'gpt-4o-mini', input_tokens: 1_000_000, output_tokens: 0, num_model_requests: 1 }] })
const bill = (value: string) => ({
  object: 'page',
  data: [{ object: 'bucket', start_time: DAY, end_time: DAY + 24 * HOUR, results: [{ object: 'organization.costs.result', amount: { value, currency: 'usd' }, line_item: 'gpt-4o-mini, input', project_id: null }] }],
  has_more: false,
  next_page: null,
})
const RANGE = `from=${DAY}&to=${DAY + 24 * HOUR}&window=day`
type Row = { computed: string | null; billed: string | null; status: string }

t.test('a usage ingest and a bill committed during a reconciliation read are seen together or not at all', { skip: !process.env.TEST_DATABASE_URL && 'TEST_DATABASE_URL is not set (PostgreSQL only)' }, async (t) => {
  const app = await build(t, 'postgres')
  const { tenantId, key } = await tenantWithKey(app, ['ingest', 'read'])
  const h = bearer(key)
  const post = async (url: string, payload: object) => t.equal((await app.inject({ method: 'POST', url, headers: h, payload })).statusCode, 200, url)
  const read = async (): Promise<Row[]> => {
    const res = await app.inject({ url: `/v1/reconciliation?${RANGE}`, headers: h })
    t.equal(res.statusCode, 200, res.body)
    return (res.json() as { data: Row[] }).data.map(({ computed, billed, status }) => ({ computed, billed, status }))
  }
  await post('/v1/usage/buckets', usage(1))
  await post('/v1/billing/costs', bill('0.15'))
  t.same(await read(), [{ computed: '0.15', billed: '0.15', status: 'MATCH' }], 'before: the day matches')

  const other = await otherSession(t, app.testDb)
  let pending: Promise<Row[]> | undefined
  await other.transaction(async (tx) => {
    await tx.query('lock table billed_costs in access exclusive mode')
    pending = read()
    // The read has its computed side and waits to read the billed side.
    await waitUntilBlocked(app.testDb, { query: '%billed_costs%', pending })
    // Meanwhile the day's second hour of usage is ingested (committed) ...
    await post('/v1/usage/buckets', usage(2))
    // ... and then its revised bill, as a repost writes it, commits when the lock is released.
    await tx.query(`update billed_costs set amount = 0.3 where tenant_id = $1`, [tenantId])
  })
  t.same(await pending!, [{ computed: '0.15', billed: '0.15', status: 'MATCH' }], 'the read is the moment it started: neither commit, not the bill without its usage')
  t.same(await read(), [{ computed: '0.3', billed: '0.3', status: 'MATCH' }], 'after: both, matching')

  // GraphQL's face shares the read.
  const g = await app.inject({ method: 'POST', url: '/graphql', headers: h, payload: { query: `{ reconciliation(from: "${new Date(DAY * 1000).toISOString()}", to: "${new Date((DAY + 86400) * 1000).toISOString()}") { rows { computed billed status } } }` } })
  t.same(g.json(), { data: { reconciliation: { rows: [{ computed: '0.3', billed: '0.3', status: 'MATCH' }] } } })
})
