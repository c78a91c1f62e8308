import t from 'tap'
import { eachEngine } from '../helpers.js'
import { buildWith, createConnection, getState, OPENAI_KEY, startStub, tenant, waitForRun } from './support/harness.js'

const LEASE_MS = 600

void t.test('a run waiting on one page longer than its lease keeps the lease: a second sync is 409, never a second run', (t) =>
  eachEngine(t, async (t, engine) => {
    const stub = await startStub(t, 6)
    // Rate limited: the first page is answered only after three Retry-After waits of a second each,
    // five times the lease.
    stub.fault('429', { times: 3, retryAfter: 1 })
    const app = await buildWith(t, engine, { config: { SYNC_LEASE_MS: String(LEASE_MS), SYNC_MAX_ATTEMPTS: '4', SYNC_RETRY_MAX_MS: '2000' } })
    const { headers } = await tenant(app)
    const conn = await createConnection(app, headers, { name: 'o', provider: 'openai', admin_key: OPENAI_KEY, base_url: stub.url, start_date: new Date(stub.opts.dataStart).toISOString(), endpoints: ['completions'] })

    const first = await app.inject({ method: 'POST', url: `/v1/connections/${conn.id}/sync`, headers })
    t.equal(first.statusCode, 202)
    const answers: number[] = []
    // Asked again and again while the first run waits out the rate limit (well past its lease).
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, LEASE_MS / 2))
      if ((await getState(app, headers, conn.id)).last_run?.status !== 'running') break
      answers.push((await app.inject({ method: 'POST', url: `/v1/connections/${conn.id}/sync`, headers })).statusCode)
    }
    t.ok(answers.length >= 4, `asked ${answers.length} times during the run`)
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
