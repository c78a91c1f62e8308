import t from 'tap'
import { admin, eachEngine, engines, isProblem } from '../helpers.js'
import { ANTHROPIC_KEY, buildWith, createConnection, OPENAI_KEY, startStub, syncAndWait, tenant, waitForRun } from './support/harness.js'

const HOUR = 3_600_000
const valid = (extra: Record<string, unknown> = {}) => ({ name: 'org', provider: 'openai', admin_key: OPENAI_KEY, account_id: 'org-1', start_date: '2026-01-01', ...extra })

void t.test('create, list, get, patch and delete; the admin key is never returned', (t) =>
  eachEngine(t, async (t, engine) => {
    // TOKENLEDGER_SYNC=off (the harness's default) with a fast tick: nothing runs by itself.
    const app = await buildWith(t, engine, { config: { SYNC_TICK_MS: '10' } })
    const { tenantId, headers } = await tenant(app)
    const created = await app.inject({ method: 'POST', url: '/v1/connections', headers, payload: valid() })
    t.equal(created.statusCode, 201, created.body)
    const c = created.json()
    t.match(c, { name: 'org', provider: 'openai', admin_key_last4: OPENAI_KEY.slice(-4), base_url: 'https://api.openai.com', interval_minutes: 60, lag_hours: 48, bucket_width: '1h', enabled: true, start_date: '2026-01-01T00:00:00.000Z', last_run: null })
    t.equal(c.endpoints.length, 11, 'every OpenAI endpoint by default')
    t.same(c.synced_until.costs, null, 'nothing synced yet')
    t.notMatch(created.body, OPENAI_KEY)

    await new Promise((r) => setTimeout(r, 150))
    t.equal((await app.inject({ method: 'GET', url: `/v1/connections/${c.id}`, headers })).json().last_run, null, 'TOKENLEDGER_SYNC=off: the due connection was not run by a timer')
    const list = await app.inject({ method: 'GET', url: '/v1/connections', headers })
    t.equal(list.json().length, 1)
    const asAdmin = await app.inject({ method: 'GET', url: '/v1/connections', headers: { ...admin, 'x-tenant-id': tenantId } })
    t.same(asAdmin.json().map((x: { id: string }) => x.id), [c.id], 'the admin token acts for the tenant with X-Tenant-Id')
    const patched = await app.inject({ method: 'PATCH', url: `/v1/connections/${c.id}`, headers, payload: { interval_minutes: 5, enabled: false, endpoints: ['completions', 'costs'], admin_key: 'sk-admin-rotated-key-5678' } })
    t.equal(patched.statusCode, 200, patched.body)
    t.match(patched.json(), { interval_minutes: 5, enabled: false, endpoints: ['completions', 'costs'], admin_key_last4: '5678' })
    const repatched = await app.inject({ method: 'PATCH', url: `/v1/connections/${c.id}`, headers, payload: { endpoints: ['costs', 'costs'] } })
    t.equal(repatched.statusCode, 400, 'a PATCH listing an endpoint twice is refused')
    t.match(repatched.json().errors, [{ path: 'body.endpoints.1', message: /repeats "costs"/ }])
    t.ok(Date.parse(patched.json().next_run_at) <= Date.now() + 5 * 60_000 + 1000, 'a shorter interval moves the next run closer')

    const dup = await app.inject({ method: 'POST', url: '/v1/connections', headers, payload: valid() })
    t.equal(dup.statusCode, 409, 'a second connection of the same name → 409')
    t.ok(isProblem(dup))
    const anthropic = await app.inject({ method: 'POST', url: '/v1/connections', headers, payload: valid({ name: 'a', provider: 'anthropic', admin_key: ANTHROPIC_KEY }) })
    t.equal(anthropic.json().base_url, 'https://api.anthropic.com')
    t.same(anthropic.json().endpoints, ['usage_report_messages', 'cost_report'])
    const rename = await app.inject({ method: 'PATCH', url: `/v1/connections/${anthropic.json().id}`, headers, payload: { name: 'org' } })
    t.equal(rename.statusCode, 409, 'renaming onto a taken name → 409')

    const other = await tenant(app)
    t.equal((await app.inject({ method: 'GET', url: `/v1/connections/${c.id}`, headers: other.headers })).statusCode, 404, 'another tenant cannot see it')

    t.equal((await app.inject({ method: 'DELETE', url: `/v1/connections/${c.id}`, headers })).statusCode, 204)
    t.equal((await app.inject({ method: 'GET', url: `/v1/connections/${c.id}`, headers })).statusCode, 404)
    t.equal((await app.inject({ method: 'POST', url: `/v1/connections/${c.id}/sync`, headers })).statusCode, 404)
  }),
)

void t.test('bad input → 400 naming every problem, nothing stored', (t) =>
  eachEngine(t, async (t, engine) => {
    const app = await buildWith(t, engine)
    const { headers } = await tenant(app)
    const future = new Date(Date.now() + 2 * 86_400_000).toISOString()
    const res = await app.inject({ method: 'POST', url: '/v1/connections', headers, payload: { name: 'x', provider: 'azure', base_url: 'not a url', start_date: future, interval_minutes: 0 } })
    t.equal(res.statusCode, 400)
    t.ok(isProblem(res))
    const paths = (res.json().errors as { path: string }[]).map((e) => e.path).sort()
    t.same(paths, ['body.admin_key', 'body.base_url', 'body.interval_minutes', 'body.provider', 'body.start_date'], 'unknown provider, malformed base_url, future start_date, interval < 1, missing key — all named')
    const versioned = await app.inject({ method: 'POST', url: '/v1/connections', headers, payload: valid({ base_url: 'https://api.openai.com/v1' }) })
    t.match(versioned.json().errors, [{ path: 'body.base_url', message: /without a version/ }])
    // Trailing slashes are trimmed before the provider's paths are appended: /v1// would request /v1/v1/….
    for (const baseUrl of ['https://api.openai.com/v1//', 'https://gateway.example.com/openai/v1///']) {
      const slashes = await app.inject({ method: 'POST', url: '/v1/connections', headers, payload: valid({ base_url: baseUrl }) })
      t.equal(slashes.statusCode, 400, `${baseUrl} is refused`)
      t.match(slashes.json().errors, [{ path: 'body.base_url', message: /without a version/ }])
    }
    const endpoints = await app.inject({ method: 'POST', url: '/v1/connections', headers, payload: valid({ endpoints: ['completions', 'cost_report'] }) })
    t.match(endpoints.json().errors, [{ path: 'body.endpoints.1', message: /openai has no endpoint "cost_report"/ }])
    const credentials = await app.inject({ method: 'POST', url: '/v1/connections', headers, payload: valid({ base_url: 'https://user:pass@api.openai.com' }) })
    t.match(credentials.json().errors, [{ path: 'body.base_url', message: /user name or password/ }], 'a base_url with credentials is refused')
    t.notMatch(credentials.body, /pass@/, 'and not echoed')
    // (Labels, not the keys, in the messages: a raw U+2028 would break the TAP stream.)
    for (const [label, adminKey] of [['CR LF', 'sk-admin-key\r\nX-Injected: 1'], ['U+2028', 'sk-admin-key\u2028tail'], ['spaces', 'sk admin key with spaces']]) {
      const bad = await app.inject({ method: 'POST', url: '/v1/connections', headers, payload: valid({ admin_key: adminKey }) })
      t.equal(bad.statusCode, 400, `an admin key that cannot be an HTTP header value is refused (${label!})`)
      t.match(bad.json().errors, [{ path: 'body.admin_key', message: /printable ASCII/ }])
      t.notMatch(bad.body, /sk-admin-key|admin key with/, 'the key is not echoed')
    }
    const repeated = await app.inject({ method: 'POST', url: '/v1/connections', headers, payload: valid({ endpoints: ['completions', 'costs', 'completions'] }) })
    t.equal(repeated.statusCode, 400, 'an endpoint listed twice is refused')
    t.match(repeated.json().errors, [{ path: 'body.endpoints.2', message: /repeats "completions" \(already at index 0\)/ }])
    const together = await app.inject({ method: 'POST', url: '/v1/connections', headers, payload: valid({ name: '', endpoints: ['cost_report', 'completions', 'nope'] }) })
    t.same(
      (together.json().errors as { path: string }[]).map((e) => e.path).sort(),
      ['body.endpoints.0', 'body.endpoints.2', 'body.name'],
      "another provider's endpoint is named in the same 400 as the body's other problems",
    )
    const kept = await app.inject({ method: 'POST', url: '/v1/connections', headers, payload: valid({ name: 'kept' }) })
    const patchBoth = await app.inject({ method: 'PATCH', url: `/v1/connections/${kept.json().id}`, headers, payload: { interval_minutes: 0, endpoints: ['cost_report'] } })
    t.same((patchBoth.json().errors as { path: string }[]).map((e) => e.path).sort(), ['body.endpoints.0', 'body.interval_minutes'], 'and in a PATCH')
    t.equal((await app.inject({ method: 'DELETE', url: `/v1/connections/${kept.json().id}`, headers })).statusCode, 204)
    const badDate = await app.inject({ method: 'POST', url: '/v1/connections', headers, payload: valid({ start_date: '2026-02-30' }) })
    t.equal(badDate.statusCode, 400, 'the one instant parser refuses 2026-02-30')
    t.same((await app.inject({ method: 'GET', url: '/v1/connections', headers })).json(), [], 'nothing stored')
  }),
)

void t.test('the admin key never appears in logs, errors, responses or GraphQL', (t) =>
  eachEngine(t, async (t, engine) => {
    const lines: string[] = []
    const stub = await startStub(t, 3)
    const app = await buildWith(t, engine, { logStream: { write: (l) => void lines.push(l) } })
    const { headers } = await tenant(app)
    const wrong = 'sk-admin-WRONG-secret-that-the-stub-echoes-0000'
    const bodies: string[] = []
    const ok = await createConnection(app, headers, valid({ base_url: stub.url, start_date: new Date(stub.opts.dataStart).toISOString(), endpoints: ['completions'] }))
    const bad = await createConnection(app, headers, valid({ name: 'bad', admin_key: wrong, base_url: stub.url, start_date: new Date(stub.opts.dataStart).toISOString() }))
    bodies.push(JSON.stringify(await syncAndWait(app, headers, ok.id)), JSON.stringify(await syncAndWait(app, headers, bad.id)))
    const badPatch = await app.inject({ method: 'PATCH', url: `/v1/connections/${bad.id}`, headers, payload: { admin_key: 'short', base_url: wrong } })
    bodies.push(badPatch.body)
    // A key sent unquoted is malformed JSON: V8 quotes the characters around such an error (Fastify says less).
    const unquoted = 'sk-admin-UNQUOTED-secret-in-broken-json-1234'
    const broken = await app.inject({ method: 'POST', url: '/v1/connections', headers: { ...headers, 'content-type': 'application/json' }, payload: `{"name":"x","admin_key":${unquoted}}` })
    t.equal(broken.statusCode, 400)
    t.match(broken.json(), { detail: /^malformed JSON body: / })
    bodies.push(broken.body)
    const gql = await app.inject({ method: 'POST', url: '/graphql', headers, payload: { query: '{ connections { id name adminKeyLast4 lastRun { status error rows } syncedUntil { endpoint syncedUntil } } }' } })
    t.equal(gql.json().errors, undefined)
    t.equal(gql.json().data.connections.length, 2)
    t.match(gql.json().data.connections[1].lastRun, { status: 'failed', error: /401/ })
    bodies.push(gql.body, (await app.inject({ method: 'GET', url: '/v1/connections', headers })).body)
    const rows = await app.testDb.query<{ sealed: string }>('select admin_key_sealed as sealed, last_run::text as run from connections')
    const everything = [...lines, ...bodies, JSON.stringify(rows)].join('\n')
    t.ok(lines.length > 0, 'logs were captured')
    t.notOk(everything.includes(OPENAI_KEY), 'the good key appears nowhere (logs, responses, GraphQL, stored rows)')
    t.notOk(everything.includes(wrong), 'the wrong key — which the provider echoed in its 401 — appears nowhere')
    const fragments = Array.from({ length: unquoted.length - 5 }, (_, i) => unquoted.slice(i, i + 6)).filter((f) => everything.includes(f))
    t.same(fragments, [], 'no six characters of a key sent unquoted appear anywhere')
  }),
)

void t.test('POST …/sync answers 409 while a run is in progress', (t) =>
  eachEngine(t, async (t, engine) => {
    const stub = await startStub(t, 3)
    stub.delayMs = 150
    const app = await buildWith(t, engine)
    const { headers } = await tenant(app)
    const c = await createConnection(app, headers, valid({ base_url: stub.url, start_date: new Date(stub.opts.dataStart - 10 * HOUR).toISOString(), endpoints: ['completions'] }))
    const first = await app.inject({ method: 'POST', url: `/v1/connections/${c.id}/sync`, headers })
    t.equal(first.statusCode, 202)
    t.equal(first.json().last_run.status, 'running')
    const second = await app.inject({ method: 'POST', url: `/v1/connections/${c.id}/sync`, headers })
    t.equal(second.statusCode, 409)
    t.match(second.json().detail, /run in progress/)
    t.equal((await waitForRun(app, headers, c.id)).last_run?.status, 'succeeded')
  }),
)

void t.test('PostgreSQL without TOKENLEDGER_SECRET_KEY: creating a connection answers 409 saying what to set', { skip: !engines().includes('postgres') && 'PostgreSQL only' }, async (t) => {
  const app = await buildWith(t, 'postgres', { config: { TOKENLEDGER_SECRET_KEY: '', DATABASE_URL: process.env.TEST_DATABASE_URL ?? '' } })
  const { headers } = await tenant(app)
  const res = await app.inject({ method: 'POST', url: '/v1/connections', headers, payload: valid() })
  t.equal(res.statusCode, 409)
  t.match(res.json().detail, /TOKENLEDGER_SECRET_KEY/)
  void admin
})
