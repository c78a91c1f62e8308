import t from 'tap'
import { bearer, build, holdLocks, tenantWithKey } from '../helpers.js'

// STATEMENT_TIMEOUT_MS bounds every statement on PostgreSQL (PGlite ignores it; see README). A usage
// query that waits on a lock held elsewhere is a deterministic way to exceed it: GraphQL answers
// QUERY_TIMEOUT and REST a 503 problem with Retry-After, and the server keeps serving.
t.test('a query over the statement timeout', { skip: !process.env.TEST_DATABASE_URL && 'TEST_DATABASE_URL is not set' }, async (t) => {
  const app = await build(t, 'postgres', { STATEMENT_TIMEOUT_MS: '300' })
  const { key } = await tenantWithKey(app, ['read'])
  const lock = await holdLocks(t, app.testDb, 'lock table usage_buckets, usage_bucket_hourly in access exclusive mode')

  const started = Date.now()
  const gql = await app.inject({
    method: 'POST', url: '/graphql', headers: bearer(key),
    payload: { query: '{ usage(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z") { totals { inputTokens } } }' },
  })
  const body = gql.json() as { errors?: { extensions?: { code?: string } }[] }
  t.equal(body.errors?.[0]?.extensions?.code, 'QUERY_TIMEOUT', 'GraphQL names the timeout')
  t.ok(Date.now() - started < 10_000, 'after the configured 300 ms, not the driver default')

  const rest = await app.inject({ method: 'GET', url: '/v1/organization/usage/completions?start_time=1759276800', headers: bearer(key) })
  t.equal(rest.statusCode, 503)
  t.match(rest.headers['content-type'], /application\/problem\+json/)
  t.equal(rest.headers['retry-after'], '1')
  t.match(rest.json(), { title: 'Query timed out' })

  await lock.release()
  const after = await app.inject({
    method: 'POST', url: '/graphql', headers: bearer(key),
    payload: { query: '{ usage(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z") { totals { inputTokens } } }' },
  })
  t.same(after.json(), { data: { usage: { totals: { inputTokens: 0 } } } }, 'served again once the lock is gone')
})
