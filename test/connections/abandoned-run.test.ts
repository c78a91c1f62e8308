import t from 'tap'
import { claimLease } from '../../src/connections/connection-store.js'
import { eachEngine } from '../helpers.js'
import { buildWith, createConnection, getState, OPENAI_KEY, tenant } from './support/harness.js'

/**
 * An instance killed mid-run (OOM, SIGKILL, a lost host) records no outcome; its lease lapses. The
 * connection must not show `running` from then on — with TOKENLEDGER_SYNC=off nothing else would ever
 * change it.
 */
void t.test('a run whose instance died shows failed once its lease has lapsed, not running for ever', (t) =>
  eachEngine(t, async (t, engine) => {
    const app = await buildWith(t, engine)
    const { tenantId, headers } = await tenant(app)
    const conn = await createConnection(app, headers, { name: 'o', provider: 'openai', admin_key: OPENAI_KEY, start_date: '2025-10-01', endpoints: ['completions'] })
    // What a dying instance leaves behind: a claimed lease and a `running` last_run, nothing after.
    // The lease is long, so the two requests below answer inside it however loaded the machine (a
    // five-second one could be outlasted by a paused process); it is then made to lapse, as time would.
    t.ok(await claimLease(app.testDb, tenantId, conn.id, 'dead-instance/run', 600_000, false))
    const during = await getState(app, headers, conn.id)
    t.equal(during.last_run?.status, 'running', 'running while the lease holds')
    t.equal((await app.inject({ method: 'POST', url: `/v1/connections/${conn.id}/sync`, headers })).statusCode, 409, 'and a sync waits for it')

    await app.testDb.query("update connections set lease_until = clock_timestamp() - interval '1 second' where id = $1", [conn.id])
    const after = await getState(app, headers, conn.id)
    t.equal(after.last_run?.status, 'failed', 'failed once the lease lapsed')
    t.match(after.last_run?.error, /stopped before recording an outcome.*resumes from synced_until/)
    t.ok(after.last_run?.finished_at, 'with the instant it was given up')
    const gql = await app.inject({ method: 'POST', url: '/graphql', headers, payload: { query: '{ connections { lastRun { status error } } }' } })
    t.match(gql.json(), { data: { connections: [{ lastRun: { status: 'failed' } }] } }, 'GraphQL says the same')
  }),
)
