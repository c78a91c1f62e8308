import { Readable } from 'node:stream'
import t from 'tap'
import { ingestBuckets } from '../../src/ingest/ingest-buckets.js'
import { readUsageCsv } from '../../src/ingest/openai-csv.js'
import { bearer, build, freshDb, holdLocks, tenantWithKey } from '../helpers.js'

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

// A CSV import's COPY lasts as long as its file takes to parse: minutes for a 10M-row export. It was
// bounded by the statement timeout like every other statement, so a large enough export failed as
// "Query timed out". A producer that pauses makes the COPY outlast the timeout with three rows, whose
// merge statements stay far below it.
t.test('a CSV import whose COPY outlasts the statement timeout', { skip: !process.env.TEST_DATABASE_URL && 'TEST_DATABASE_URL is not set' }, async (t) => {
  const db = await freshDb(t, 'postgres', 500)
  await db.query(`insert into tenants (id, name) values ('acme', 'Acme')`)
  const csv = ['start_time,end_time,model,input_tokens', ...[0, 1, 2].map((i) => `${1766000000 + i * 3600},${1766003600 + i * 3600},m,${i + 1}`)].join('\n')
  const result = await ingestBuckets(db, 'acme', 'openai_csv', 'line', (emit) =>
    readUsageCsv(Readable.from([csv]), {}, async (b, line) => {
      await new Promise((r) => setTimeout(r, 400))
      return emit(line, b)
    }),
  )
  t.match(result, { created: 3 }, 'stored after 1.2 s of COPY under a 500 ms statement timeout')
  t.same(await db.query('select sum(input_tokens)::int8 as n from usage_buckets'), [{ n: 6 }])
  t.same(await db.query('show statement_timeout'), [{ statement_timeout: '500ms' }], 'the connection keeps its timeout')
})
