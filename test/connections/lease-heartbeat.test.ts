import t from 'tap'
import { eachEngine } from '../helpers.js'
import { buildWith, createConnection, getState, OPENAI_KEY, startStub, tenant, waitForRun } from './support/harness.js'

// Three seconds: the heartbeat renews it every second, so the lease survives this process (or PostgreSQL)
// pausing for two seconds on a loaded machine. At 600 ms a pause of 400 ms let it lapse between two beats.
const LEASE_MS = 3_000
const RETRY_AFTER_S = 3

void t.test('a run waiting on one page longer than its lease keeps the lease: a second sync is 409, never a second run', (t) =>
  eachEngine(t, async (t, engine) => {
    const stub = await startStub(t, 6)
    // Rate limited: the first page is answered only after three Retry-After waits of three seconds
    // each, three times the lease.
    stub.fault('429', { times: 3, retryAfter: RETRY_AFTER_S })
    const app = await buildWith(t, engine, { config: { SYNC_LEASE_MS: String(LEASE_MS), SYNC_MAX_ATTEMPTS: '4', SYNC_RETRY_MAX_MS: String(RETRY_AFTER_S * 1000 + 1000) } })
    const { headers } = await tenant(app)
    const conn = await createConnection(app, headers, { name: 'o', provider: 'openai', admin_key: OPENAI_KEY, base_url: stub.url, start_date: new Date(stub.opts.dataStart).toISOString(), endpoints: ['completions'] })

    const first = await app.inject({ method: 'POST', url: `/v1/connections/${conn.id}/sync`, headers })
    t.equal(first.statusCode, 202)
    const started = Date.now()
    const answers: number[] = []
    let askedAfterLease = false
    // Asked again and again while the first run waits out the rate limit (well past its lease).
    for (;;) {
      await new Promise((r) => setTimeout(r, 250))
      if ((await getState(app, headers, conn.id)).last_run?.status !== 'running') break
      const asked = Date.now()
      answers.push((await app.inject({ method: 'POST', url: `/v1/connections/${conn.id}/sync`, headers })).statusCode)
      if (asked - started > LEASE_MS * 1.5) askedAfterLease = true
    }
    t.ok(answers.length >= 4, `asked ${answers.length} times during the run`)
    t.ok(askedAfterLease, 'and still asked well after the first lease would have lapsed')
    t.same([...new Set(answers)], [409], 'every sync asked for during the run is refused with 409')
    const done = await waitForRun(app, headers, conn.id)
    t.equal(done.last_run?.status, 'succeeded', `the run itself succeeded (${done.last_run?.error ?? ''})`)
    // Whatever a second run would have done has ended too.
    await new Promise((r) => setTimeout(r, 200))
    await waitForRun(app, headers, conn.id)
    t.equal(stub.maxInFlight, 1, 'never two provider requests at once')
    t.equal(stub.requests.filter((r) => r.query.page === undefined).length, 4, 'the window was started once (3 refused attempts and the answer), not by a second run')
  }),
)
