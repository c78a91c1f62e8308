import t from 'tap'
import { claimLease, recordProgress } from '../../src/connections/connection-store.js'
import { eachEngine } from '../helpers.js'
import { buildWith, createConnection, getState, OPENAI_KEY, tenant } from './support/harness.js'

/**
 * A run records its counts after each page and from its lease heartbeat, which writes the counts it read
 * when it fired. On a pool the heartbeat's statement can reach the row after the next page's: the counts
 * went back a page, and stayed so when the process died before recording its outcome (nothing rewrites
 * them then). Here the two statements land in that order.
 */
void t.test('a late heartbeat with older counts does not take a recorded page back', (t) =>
  eachEngine(t, async (t, engine) => {
    const app = await buildWith(t, engine)
    const { tenantId, headers } = await tenant(app)
    const conn = await createConnection(app, headers, { name: 'o', provider: 'openai', admin_key: OPENAI_KEY, start_date: '2025-10-01', endpoints: ['completions'] })
    const owner = 'instance/run'
    t.ok(await claimLease(app.testDb, tenantId, conn.id, owner, 60_000, false))
    const at = (pages: number, rows: number, syncedUntil?: Date) =>
      recordProgress(app.testDb, { tenantId, id: conn.id, owner, leaseMs: 60_000, pages, rows, ...(syncedUntil ? { endpoint: 'completions', syncedUntil } : {}) })
    t.ok(await at(3, 30, new Date('2025-10-02T00:00:00Z')), 'the third page and its progress')
    t.ok(await at(2, 20), 'the heartbeat that read the counts before it')
    const state = await getState(app, headers, conn.id)
    t.match(state.last_run, { status: 'running', pages: 3, rows: 30 }, 'still three pages and their rows')
    t.equal(state.synced_until.completions, '2025-10-02T00:00:00.000Z')

    // A new run starts from zero again.
    await app.testDb.query('update connections set lease_until = null, lease_owner = null')
    t.ok(await claimLease(app.testDb, tenantId, conn.id, 'instance/run2', 60_000, false))
    t.match((await getState(app, headers, conn.id)).last_run, { status: 'running', pages: 0, rows: 0 }, 'the next run counts from zero')
  }),
)
