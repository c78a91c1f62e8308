import t from 'tap'
import { bearer, build, otherSession, tenantWithKey, waitUntilBlocked } from '../helpers.js'

// Writers of the same hours lock the same rollup rows. When two of them deadlock, PostgreSQL aborts
// one; if that is an ingest request, it wrote nothing and is run again instead of failing with a 500.
t.test('an ingest that loses a deadlock is retried', { skip: !process.env.TEST_DATABASE_URL && 'TEST_DATABASE_URL is not set' }, async (t) => {
  const app = await build(t, 'postgres')
  const { tenantId, key } = await tenantWithKey(app)
  const H1 = 1_759_276_800
  const H2 = H1 + 3600
  const rows = (input: number) => [H1, H2].map((s) => ({ start_time: s, end_time: s + 60, model: 'm', input_tokens: input, output_tokens: 1 }))
  const post = (input: number) => app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(key), payload: { buckets: rows(input) } })
  t.equal((await post(1)).statusCode, 200)

  const other = await otherSession(t, app.testDb)
  const deadlocks = async () =>
    (await app.testDb.query<{ n: number }>('select deadlocks::int8 as n from pg_stat_database where datname = current_database()'))[0]!.n
  const before = await deadlocks()

  const lockHour = (tx: { query: typeof other.query }, s: number) =>
    tx.query(`update usage_bucket_hourly set input_tokens = input_tokens where tenant_id = $1 and hour = to_timestamp($2)`, [tenantId, s])
  let request: ReturnType<typeof post> | undefined
  await other.transaction(async (tx) => {
    // This session waits long before checking for deadlocks, so the ingest's session is the victim.
    await tx.query(`set local deadlock_timeout = '30s'`)
    await lockHour(tx, H2)
    request = post(2) // locks H1's rollup row, then waits for H2's
    await waitUntilBlocked(app.testDb, { pending: request })
    await lockHour(tx, H1) // waits for the ingest: a deadlock, which the ingest's session detects
  })
  const res = await request!
  t.equal(res.statusCode, 200, res.body)
  t.match(res.json(), { created: 0, replaced: 2 })
  t.ok((await deadlocks()) > before, 'a deadlock did happen')
  const stored = await app.testDb.query<{ input_tokens: number }>(
    `select input_tokens from usage_bucket_hourly where tenant_id = $1 order by hour`, [tenantId])
  t.same(stored, [{ input_tokens: 2 }, { input_tokens: 2 }], 'and the retry stored the new values once')
})
