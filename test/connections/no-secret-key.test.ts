import t from 'tap'
import { engines, freshDb } from '../helpers.js'
import { buildWith, createConnection, getState, OPENAI_KEY, startStub, tenant } from './support/harness.js'

/**
 * An instance on PostgreSQL started without TOKENLEDGER_SECRET_KEY (a second server, a redeploy that
 * lost the variable) cannot open any admin key. It must say so, and never hold a connection as
 * `running` while nothing runs.
 */
void t.test(
  'an instance without TOKENLEDGER_SECRET_KEY refuses to run a connection (409 saying what to set) and never claims it',
  { skip: !engines().includes('postgres') && 'PostgreSQL only: PGlite always has a key (generated into DATA_DIR)' },
  async (t) => {
    const stub = await startStub(t, 6)
    const db = await freshDb(t, 'postgres')
    const keyed = await buildWith(t, 'postgres', { db })
    const { headers } = await tenant(keyed)
    const conn = await createConnection(keyed, headers, { name: 'o', provider: 'openai', admin_key: OPENAI_KEY, base_url: stub.url, start_date: new Date(stub.opts.dataStart).toISOString(), endpoints: ['completions'] })

    // The same database, no key: DATABASE_URL set (as a real deployment has) and TOKENLEDGER_SECRET_KEY unset.
    const keyless = await buildWith(t, 'postgres', {
      db,
      config: { DATABASE_URL: process.env.TEST_DATABASE_URL!, TOKENLEDGER_SECRET_KEY: undefined as unknown as string, TOKENLEDGER_SYNC: 'on', SYNC_TICK_MS: '20' },
    })
    t.equal(keyless.secretBox, undefined, 'the keyless instance has no secret box')
    const res = await keyless.inject({ method: 'POST', url: `/v1/connections/${conn.id}/sync`, headers })
    t.equal(res.statusCode, 409, 'POST …/sync is refused')
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.match(res.json(), { detail: /TOKENLEDGER_SECRET_KEY/ }, 'saying what to set')

    // Its scheduler (ticking every 20 ms) leaves the due connection alone.
    await new Promise((r) => setTimeout(r, 300))
    const state = await getState(keyed, headers, conn.id)
    t.equal(state.last_run, null, 'no run was started, none shows as running')
    t.equal(stub.requests.length, 0, 'the provider was never asked')
    const run = await keyed.inject({ method: 'POST', url: `/v1/connections/${conn.id}/sync`, headers })
    t.equal(run.statusCode, 202, 'an instance with the key can still run it at once (no lease held by the keyless one)')
  },
)
