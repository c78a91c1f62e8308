import type { AddressInfo } from 'node:net'
import t from 'tap'
import { admin, bearer, build, eachEngine, isProblem, rawHttp, tenantWithKey } from '../helpers.js'

/**
 * Hostile input on every route: NUL bytes in parameters, headers, JSON strings and GraphQL variables and
 * literals; huge strings; impossible or out-of-range dates; unknown time zones; forged cursors. Each
 * must be a 4xx problem+json (GraphQL: BAD_USER_INPUT) — never a 500 — and write nothing.
 */
const TABLES = ['tenants', 'api_keys', 'usage_buckets', 'usage_events', 'usage_event_ids', 'rate_cards', 'rates']
const NUL = 'a\u0000b'
const HUGE = 'x'.repeat(200_000)
const forged = (o: Record<string, unknown>) => Buffer.from(JSON.stringify(o)).toString('base64url')

interface Attack {
  name: string
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE'
  url: string
  headers?: Record<string, string>
  payload?: unknown
}

const USAGE_Q = 'query($from: DateTime!, $to: DateTime!, $tz: String, $card: String, $f: UsageFilter, $after: String, $labels: [String!]) { usage(from: $from, to: $to, timeZone: $tz, rateCard: $card, filter: $f, after: $after, groupByLabels: $labels) { totals { inputTokens } } }'
const range = { from: '2025-10-01T00:00:00Z', to: '2025-10-02T00:00:00Z' }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app, ['ingest', 'read'])
  const h = bearer(key)
  const asTenant = { ...admin, 'x-tenant-id': tenantId }
  const counts = async () =>
    Object.fromEntries(
      await Promise.all(TABLES.map(async (table) => [table, (await app.testDb.query<{ n: number }>(`select count(*)::int as n from ${table}`))[0]!.n] as const)),
    )

  const rest: Attack[] = [
    { name: 'NUL in a tenant id', method: 'POST', url: '/v1/tenants', headers: admin, payload: { id: NUL, name: 'x' } },
    { name: 'NUL in a tenant name', method: 'POST', url: '/v1/tenants', headers: admin, payload: { id: 'nul-name', name: NUL } },
    { name: 'a huge tenant name', method: 'POST', url: '/v1/tenants', headers: admin, payload: { id: 'huge-name', name: HUGE } },
    { name: 'NUL in an API key name', method: 'POST', url: `/v1/tenants/${tenantId}/api-keys`, headers: admin, payload: { name: NUL, scopes: ['read'] } },
    { name: 'NUL in a path parameter', method: 'GET', url: '/v1/tenants/a%00b/api-keys', headers: admin },
    { name: 'NUL in a key id', method: 'DELETE', url: '/v1/api-keys/a%00b', headers: admin },
    { name: 'a path parameter longer than any router limit', method: 'GET', url: `/v1/tenants/${'a'.repeat(5000)}/api-keys`, headers: admin },
    { name: 'a 300-character tenant id in a path is answered by the app, not the router', method: 'GET', url: `/v1/tenants/${'a'.repeat(300)}/api-keys`, headers: admin },
    { name: 'a malformed percent-escape in a path', method: 'GET', url: '/v1/tenants/%zz/api-keys', headers: admin },
    { name: 'a key id that is not one', method: 'DELETE', url: `/v1/api-keys/${'9'.repeat(40)}`, headers: admin },
    { name: 'NUL in X-Tenant-Id', method: 'GET', url: '/v1/rate-cards', headers: { ...admin, 'x-tenant-id': NUL } },
    { name: 'NUL in another header', method: 'GET', url: '/v1/me', headers: { ...h, 'user-agent': NUL } },
    { name: 'NUL in a rate card description', method: 'PUT', url: '/v1/rate-cards/nul-card', headers: asTenant, payload: { description: NUL } },
    { name: 'NUL in a rate model', method: 'POST', url: '/v1/rate-cards/default/rates', headers: admin, payload: { rates: [{ model: NUL, effective_from: 0 }] } },
    { name: 'NUL in a rate source', method: 'POST', url: '/v1/rate-cards/default/rates', headers: admin, payload: { rates: [{ model: 'nul-src', effective_from: 0, source: NUL }] } },
    { name: 'year 0000 as a rate’s effective_from', method: 'POST', url: '/v1/rate-cards/default/rates', headers: admin, payload: { rates: [{ model: 'y0', effective_from: '0000-01-01T00:00:00Z' }] } },
    { name: 'NUL in the rates model filter', method: 'GET', url: '/v1/rate-cards/default/rates?model=a%00b', headers: h },
    { name: 'an impossible rates `at`', method: 'GET', url: '/v1/rate-cards/default/rates?at=2025-02-30T00:00:00Z', headers: h },
    { name: 'NUL in a bucket model', method: 'POST', url: '/v1/usage/buckets', headers: h, payload: { buckets: [{ start_time: 0, end_time: 3600, model: NUL, input_tokens: 1 }] } },
    { name: 'a lone surrogate in a bucket model', method: 'POST', url: '/v1/usage/buckets', headers: h, payload: { buckets: [{ start_time: 0, end_time: 3600, model: '\ud800x', input_tokens: 1 }] } },
    { name: 'a lone low surrogate in a page’s project', method: 'POST', url: '/v1/usage/buckets', headers: h, payload: { data: [{ start_time: 0, end_time: 3600, results: [{ model: 'm', project_id: 'x\udc00', input_tokens: 1 }] }] } },
    { name: 'a lone surrogate in a tenant name', method: 'POST', url: '/v1/tenants', headers: admin, payload: { id: 'lone-name', name: 'a\ud83d' } },
    { name: 'NUL in the ingest provider parameter', method: 'POST', url: '/v1/usage/buckets?provider=a%00b', headers: h, payload: { data: [] } },
    { name: 'NUL in a page’s result', method: 'POST', url: '/v1/usage/buckets', headers: h, payload: { data: [{ start_time: 0, end_time: 3600, results: [{ model: NUL, input_tokens: 1 }] }] } },
    { name: 'year 0000 in a bucket', method: 'POST', url: '/v1/usage/buckets', headers: h, payload: { buckets: [{ start_time: '0000-01-01T00:00:00Z', end_time: 3600, model: 'm', input_tokens: 1 }] } },
    { name: '15-digit unix seconds in a bucket', method: 'POST', url: '/v1/usage/buckets', headers: h, payload: { buckets: [{ start_time: 100000000000000, end_time: 100000000003600, model: 'm', input_tokens: 1 }] } },
    { name: 'NUL in the delete account', method: 'DELETE', url: '/v1/usage/buckets?start_time=0&end_time=3600&account_id=a%00b', headers: h },
    { name: 'an over-long delete start', method: 'DELETE', url: `/v1/usage/buckets?start_time=${'9'.repeat(30)}&end_time=3600`, headers: h },
    { name: 'NUL in the events wrapper', method: 'POST', url: '/v1/usage/events', headers: h, payload: { events: 'a\u0000' } },
    { name: 'NUL in a mirror filter', method: 'GET', url: '/v1/organization/usage/completions?start_time=1759276800&models=a%00b', headers: h },
    { name: 'NUL in a mirror rate card', method: 'GET', url: '/v1/organization/usage/completions?start_time=1759276800&rate_card=a%00b', headers: h },
    { name: 'NUL in a costs project filter', method: 'GET', url: '/v1/organization/costs?start_time=1759276800&project_ids=a%00b', headers: h },
    { name: 'year 0000 as start_time', method: 'GET', url: '/v1/organization/usage/completions?start_time=0000-01-01T00:00:00Z', headers: h },
    { name: 'an over-long start_time', method: 'GET', url: `/v1/usage?start_time=${'9'.repeat(40)}`, headers: h },
    { name: 'a huge page cursor', method: 'GET', url: `/v1/usage?start_time=1759276800&page=${HUGE.slice(0, 5000)}`, headers: h },
    { name: 'a forged page cursor with an impossible instant', method: 'GET', url: `/v1/usage?start_time=1759276800&page=page_${forged({ s: 1e300, a: 1e300, h: 'x' })}`, headers: h },
  ]

  const graphql: { name: string; query: string; variables?: Record<string, unknown> }[] = [
    { name: 'NUL in a variable', query: USAGE_Q, variables: { ...range, card: NUL } },
    { name: 'NUL in a filter variable', query: USAGE_Q, variables: { ...range, f: { models: [NUL] } } },
    { name: 'NUL in a label variable', query: USAGE_Q, variables: { ...range, labels: [NUL] } },
    { name: 'NUL in a literal', query: `{ usage(from: "${range.from}", to: "${range.to}", rateCard: "a\\u0000b") { totals { inputTokens } } }` },
    { name: 'NUL in an events literal', query: '{ events(filter: { sessionIds: ["a\\u0000b"] }) { rows { id } } }' },
    { name: 'a zone only Intl knows', query: USAGE_Q, variables: { ...range, tz: 'US/Pacific-New' } },
    { name: 'a zone only Intl knows, in events', query: '{ events(period: TODAY, timeZone: "US/Pacific-New") { rows { id } } }' },
    { name: 'a huge zone', query: USAGE_Q, variables: { ...range, tz: HUGE } },
    { name: 'year 0000', query: USAGE_Q, variables: { ...range, from: '0000-01-01T00:00:00Z' } },
    { name: 'an over-long unix time', query: USAGE_Q, variables: { ...range, to: '9'.repeat(20) } },
    { name: 'an impossible pricingAsOf', query: `{ usage(from: "${range.from}", to: "${range.to}", pricingAsOf: "2025-04-31T00:00:00Z") { totals { inputTokens } } }` },
    { name: 'a forged cursor with a huge offset', query: USAGE_Q, variables: { ...range, after: forged({ o: 1e300, h: 'x', a: 1e300 }) } },
  ]

  const before = await counts()
  for (const a of rest) {
    t.test(a.name, async (t) => {
      const res = await app.inject({ method: a.method ?? 'GET', url: a.url, headers: a.headers ?? {}, ...(a.payload === undefined ? {} : { payload: a.payload as object }) })
      t.ok(res.statusCode >= 400 && res.statusCode < 500, `4xx, got ${res.statusCode} ${res.body.slice(0, 300)}`)
      t.ok(isProblem(res), 'problem+json')
    })
  }
  for (const g of graphql) {
    t.test(`GraphQL: ${g.name}`, async (t) => {
      const res = await app.inject({ method: 'POST', url: '/graphql', headers: h, payload: { query: g.query, variables: g.variables ?? {} } })
      const body = res.json() as { errors?: { message: string; extensions?: { code?: string } }[] }
      t.ok(body.errors?.length, 'an error')
      t.ok(body.errors?.every((e) => e.extensions?.code === 'BAD_USER_INPUT'), `BAD_USER_INPUT: ${res.statusCode} ${res.body.slice(0, 300)}`)
    })
  }
  t.test('an event with a NUL is rejected alone; the others stand', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/v1/usage/events', headers: h, payload: { events: [{ id: 'nul-1', timestamp: 0, model: NUL }, { id: 'ok-1', timestamp: 0, model: 'm' }] } })
    t.equal(res.statusCode, 200)
    t.same((res.json() as { results: { status: string }[] }).results.map((r) => r.status), ['rejected', 'created'])
    await app.testDb.query(`delete from usage_events where id = 'ok-1'`)
    await app.testDb.query(`delete from usage_event_ids where id = 'ok-1'`)
  })
  t.test('an event with a lone surrogate is rejected alone, naming the field', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/v1/usage/events', headers: h, payload: { events: [{ id: 'lone-1', timestamp: 0, model: 'm', metadata: { k: 'x\ud800' } }] } })
    t.equal(res.statusCode, 200)
    t.match(res.json(), { results: [{ status: 'rejected', errors: [{ path: 'metadata', message: /lone UTF-16 surrogate/ }] }] })
  })
  // 4,000 levels: 8,000 bytes, under the 8 KiB metadata limit; it overflowed the stack (a 500 for the batch).
  const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`
  t.test('an event whose metadata nests thousands deep is rejected alone; the others stand', async (t) => {
    const payload = `{"events":[{"id":"deep-1","timestamp":0,"model":"m","metadata":{"a":${nested(4000)}}},{"id":"ok-2","timestamp":0,"model":"m"}]}`
    const res = await app.inject({ method: 'POST', url: '/v1/usage/events', headers: { ...h, 'content-type': 'application/json' }, payload })
    t.equal(res.statusCode, 200, res.body.slice(0, 300))
    t.match(res.json(), { results: [{ id: 'deep-1', status: 'rejected', errors: [{ path: 'metadata', message: /deeper than 64 levels/ }] }, { id: 'ok-2', status: 'created' }] })
    const shallow = `{"events":[{"id":"deep-ok","timestamp":0,"model":"m","metadata":{"a":${nested(60)}}}]}`
    const ok = await app.inject({ method: 'POST', url: '/v1/usage/events', headers: { ...h, 'content-type': 'application/json' }, payload: shallow })
    t.match(ok.json(), { results: [{ status: 'created' }] }, 'nesting within the limit is stored')
    await app.testDb.query(`delete from usage_events where id in ('ok-2', 'deep-ok')`)
    await app.testDb.query(`delete from usage_event_ids where id in ('ok-2', 'deep-ok')`)
  })
  t.test('a JSON body nested thousands deep is a 400 naming where, not a 500', async (t) => {
    const res = await app.inject({ method: 'PUT', url: '/v1/budgets/deep', headers: { ...h, 'content-type': 'application/json' }, payload: `{"amount":"5","period":"day","filter":${nested(20_000)}}` })
    t.equal(res.statusCode, 400, res.body.slice(0, 300))
    t.ok(isProblem(res), 'problem+json')
    t.match(res.json(), { errors: [{ path: /^body\.filter(\.0)+$/, message: /deeper than 64 levels/ }] })
  })
  // A Latin-1 "é" (0xE9) was decoded as U+FFFD and stored: not what was sent (a CSV's is already refused).
  t.test('a JSON body that is not UTF-8 is a 400, on every route', async (t) => {
    const bodies = [
      ['/v1/usage/buckets', '{"buckets":[{"start_time":0,"end_time":3600,"model":"café","input_tokens":1}]}'],
      ['/v1/usage/events', '{"events":[{"id":"latin1","timestamp":0,"model":"café","input_tokens":1}]}'],
      ['/v1/billing/costs', '{"data":[{"start_time":0,"end_time":86400,"results":[{"amount":{"value":1,"currency":"usd"},"line_item":"café"}]}]}'],
    ] as const
    for (const [url, json] of bodies) {
      const res = await app.inject({ method: 'POST', url, headers: { ...h, 'content-type': 'application/json; charset=latin1' }, payload: Buffer.from(json, 'latin1') })
      t.equal(res.statusCode, 400, `${url}: ${res.body.slice(0, 200)}`)
      t.ok(isProblem(res), 'problem+json')
      t.match(res.json(), { detail: /not valid UTF-8/ })
    }
    const utf8 = await app.inject({ method: 'POST', url: '/v1/usage/events', headers: { ...h, 'content-type': 'application/json' }, payload: Buffer.from(bodies[1][1].replace('latin1', 'utf8'), 'utf8') })
    t.match(utf8.json(), { results: [{ status: 'created' }] }, 'the same body in UTF-8 is stored')
    const [row] = await app.testDb.query<{ model: string }>(`select model from usage_events where id = 'utf8'`)
    t.equal(row?.model, 'café')
    await app.testDb.query(`delete from usage_events where id = 'utf8'`)
    await app.testDb.query(`delete from usage_event_ids where id = 'utf8'`)
  })
  t.test('a pair of surrogates (an emoji) is one character and is stored as sent', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: h, payload: { buckets: [{ start_time: 7200, end_time: 10800, model: 'm\ud83d\ude00', input_tokens: 1 }] } })
    t.equal(res.statusCode, 200, res.body)
    const [row] = await app.testDb.query<{ model: string }>(`select model from usage_buckets where start_time = to_timestamp(7200)`)
    t.equal(row?.model, 'm😀')
    await app.testDb.query(`delete from usage_buckets where start_time = to_timestamp(7200)`)
  })
  t.test('nothing was written by any of them', async (t) => {
    t.same(await counts(), before)
  })
})

t.test('errors of the HTTP parser (before Fastify routes a request) are problems too, on a real socket', async (t) => {
  const app = await build(t, 'pglite')
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const raw = (request: string) => rawHttp(port, request)
  const cases = [
    { name: 'a request line over the header size limit', request: `GET /v1/organization/usage/completions?page=${'A'.repeat(200_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, status: 431 },
    { name: 'a request that is not HTTP', request: 'NOT HTTP AT ALL\r\n\r\n', status: 400 },
  ]
  for (const c of cases) {
    const res = await raw(c.request)
    const [head = '', body = ''] = res.split('\r\n\r\n')
    t.match(head, new RegExp(`^HTTP/1\\.1 ${c.status} `), `${c.name}: ${c.status}`)
    t.match(head, /content-type: application\/problem\+json/i, `${c.name}: problem+json`)
    t.equal((JSON.parse(body) as { status: number }).status, c.status, `${c.name}: the body names the status`)
  }
})
