import t from 'tap'
import { eachEngine } from '../helpers.js'
import { buildWith, createConnection, ledgerTotals, OPENAI_KEY, startStub, syncAndWait, tenant } from './support/harness.js'

const HOUR = 3_600_000
/** The request timeout of the timeout test, and a response that outlives it. */
const SLOW_FAULT = { timeoutMs: 3000, responseMs: 4500 }

void t.test('429 with Retry-After, a 500 and a response past the timeout are retried; the run completes exactly', (t) =>
  eachEngine(t, async (t, engine) => {
    const stub = await startStub(t, 12)
    const app = await buildWith(t, engine, { config: { SYNC_RETRY_MAX_MS: '3000', SYNC_REQUEST_TIMEOUT_MS: String(SLOW_FAULT.timeoutMs) } })
    const { tenantId, headers } = await tenant(app)
    const conn = await createConnection(app, headers, { name: 'o', provider: 'openai', admin_key: OPENAI_KEY, base_url: stub.url, start_date: new Date(stub.opts.dataStart).toISOString(), endpoints: ['completions'] })
    stub.fault('429', { skip: 0, retryAfter: 1 })
    stub.fault('500', { skip: 2 })
    stub.fault('slow', { skip: 4, ms: SLOW_FAULT.responseMs }) // past the request timeout
    const state = await syncAndWait(app, headers, conn.id)
    t.equal(state.last_run?.status, 'succeeded', `succeeded (${state.last_run?.error ?? ''})`)
    const times = stub.requests.map((r) => r.query.page ?? 'first')
    t.equal(times[0], times[1], 'the 429 was retried with the same page')
    t.equal(times[2], times[3], 'the 500 was retried')
    t.equal(times[4], times[5], 'the request that outlived the timeout was retried')
    const got = (await ledgerTotals(app.testDb, tenantId)).buckets.find((b) => b.usage_type === 'completions')
    t.equal(got?.input, String(stub.expected().completions.input), 'totals exact despite the faults')
  }),
)

void t.test('Retry-After is honoured', (t) =>
  eachEngine(t, async (t, engine) => {
    const stub = await startStub(t, 2)
    const app = await buildWith(t, engine, { config: { SYNC_RETRY_MAX_MS: '3000' } })
    const { headers } = await tenant(app)
    const conn = await createConnection(app, headers, { name: 'o', provider: 'openai', admin_key: OPENAI_KEY, base_url: stub.url, start_date: new Date(stub.opts.dataStart).toISOString(), endpoints: ['completions'] })
    stub.fault('429', { retryAfter: 1 })
    const started = Date.now()
    const state = await syncAndWait(app, headers, conn.id)
    t.equal(state.last_run?.status, 'succeeded')
    t.ok(Date.now() - started >= 1000, 'waited the second the provider asked for')
  }),
)

void t.test('a failure mid-window keeps every stored page, advances synced_until only past them, and the next run completes', (t) =>
  eachEngine(t, async (t, engine) => {
    const stub = await startStub(t, 40)
    const app = await buildWith(t, engine)
    const { tenantId, headers } = await tenant(app)
    const conn = await createConnection(app, headers, { name: 'o', provider: 'openai', admin_key: OPENAI_KEY, base_url: stub.url, start_date: new Date(stub.opts.dataStart).toISOString(), endpoints: ['completions'] })
    // Pages 1 and 2 succeed; page 3 fails every attempt (SYNC_MAX_ATTEMPTS = 3).
    stub.fault('500', { skip: 2, times: 3 })
    const failed = await syncAndWait(app, headers, conn.id)
    t.equal(failed.last_run?.status, 'failed')
    t.match(failed.last_run?.error, /failed after 3 attempts; last: 500/, 'the error names the cause')
    t.equal(failed.last_run?.pages, 2, 'two pages stored')
    const until = Date.parse(failed.synced_until.completions!)
    t.equal(until, stub.opts.dataStart + 2 * stub.pageBuckets * HOUR, 'synced_until = the end of the last stored page')
    let input = 0n
    for (let h = stub.opts.dataStart; h < until; h += HOUR) for (const r of stub.openaiResults('completions', h)) input += BigInt(r.input_tokens as number)
    const partial = (await ledgerTotals(app.testDb, tenantId)).buckets.find((b) => b.usage_type === 'completions')
    t.equal(partial?.input, String(input), 'exactly the buckets before synced_until are stored: nothing half-stored')

    const next = await syncAndWait(app, headers, conn.id)
    t.equal(next.last_run?.status, 'succeeded')
    const full = (await ledgerTotals(app.testDb, tenantId)).buckets.find((b) => b.usage_type === 'completions')
    t.equal(full?.input, String(stub.expected().completions.input), 'the next run completes: totals exact')
    t.equal(full?.rows, stub.expected().completions.rows)
  }),
)

void t.test('a conflict with another report shape fails the run with the 409 detail', (t) =>
  eachEngine(t, async (t, engine) => {
    const stub = await startStub(t, 6)
    const app = await buildWith(t, engine)
    const { headers } = await tenant(app)
    // An hour the stub reports usage in (every fifth hour is empty).
    const hour = [1, 2].map((i) => stub.opts.dataStart + i * HOUR).find((h) => (h / HOUR) % 5 !== 0)!
    const posted = await app.inject({
      method: 'POST',
      url: '/v1/usage/buckets?provider=openai&account_id=org-1',
      headers,
      payload: { object: 'page', data: [{ object: 'bucket', start_time: hour / 1000, end_time: (hour + HOUR) / 1000, results: [{ object: 'organization.usage.completions.result', input_tokens: 5, output_tokens: 1, num_model_requests: 1, model: 'gpt-4o' }] }] },
    })
    t.equal(posted.statusCode, 200, posted.body)
    const conn = await createConnection(app, headers, { name: 'o', provider: 'openai', admin_key: OPENAI_KEY, account_id: 'org-1', base_url: stub.url, start_date: new Date(stub.opts.dataStart).toISOString(), endpoints: ['completions'] })
    const state = await syncAndWait(app, headers, conn.id)
    t.equal(state.last_run?.status, 'failed')
    t.match(state.last_run?.error, /^409 Conflict: completions .*overlaps stored bucket/, 'last_run.error carries the 409 detail')
  }),
)
