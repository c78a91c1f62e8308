import { createServer, type ServerResponse } from 'node:http'
import t, { type Test } from 'tap'
import { sql } from 'drizzle-orm'
import { build, eachEngine, waitFor } from '../helpers.js'
import { alerts, listenAsReceiver, spentTenant, testEngine } from '../factories/budgets.js'

// Several instances share one database, each with its own clock. A delivery's lease and its retry's due
// time were computed from the instance's clock and compared with another instance's: an instance whose
// clock ran a minute ahead took over an attempt another was still making (the receiver got the alert
// twice at once), and a retry scheduled by an instance ten minutes ahead was not due anywhere else for
// ten minutes more than its backoff. The database's clock is now the one clock for leases and due times.
//
// Nothing here waits for a fixed time to pass: under load (15–20 on two cores) the test failed twice.
// The receiver answered after 1.5 s, inside a 3 s webhook timeout, and the usage was ingested 300 ms
// before the budget was made, "so that only a timer pass evaluates it" — an evaluation after that ingest
// still running when the budget was made recorded the alert in the app's own engine, which then made the
// attempts the instances under test were meant to make. Now the first attempt is held until the test
// releases it, the timeout (20 s, so a lease of 25 s) leaves the minute of skew well past any lease, and
// the usage is ingested by an instance of its own, closed (its evaluations done) before the budget exists.

const TIMEOUT_MS = 20_000
/** More than the lease (TIMEOUT_MS + 5 s): a lease read by this clock would have run out. */
const SKEW_AHEAD_MS = 60_000

/** A receiver that holds its first request until `release()` and answers every other at once, counting them. */
async function heldReceiver(t: Test) {
  const state = { requests: 0 }
  let held: ServerResponse | undefined
  let released = false
  const server = createServer((req, res) => {
    state.requests++
    req.resume()
    if (state.requests === 1 && !released) held = res
    else res.end('ok')
  })
  const release = () => {
    released = true
    held?.end('ok')
  }
  return { url: await listenAsReceiver(t, server), state, release }
}

/** A receiver that answers 500 until `state.failing` is cleared, then 200; `state.statuses` lists its answers. */
async function failingReceiver(t: Test) {
  const state = { failing: true, statuses: [] as number[] }
  const server = createServer((req, res) => {
    req.resume()
    res.statusCode = state.failing ? 500 : 200
    state.statuses.push(res.statusCode)
    res.end('ok')
  })
  return { url: await listenAsReceiver(t, server), state }
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BUDGET_EVALUATION_INTERVAL_MS: 'off', OUTBOUND_PRIVATE_ADDRESSES: 'allow' })
  /** An instance's engine whose clock is `skewMs` off the real one (the app's own engine is not used). */
  const instance = (t: Test, skewMs: number, o: { maxAttempts?: number; retryBaseMs?: number } = {}) =>
    testEngine(t, app, { webhookTimeoutMs: TIMEOUT_MS, maxAttempts: o.maxAttempts ?? 1, retryBaseMs: o.retryBaseMs ?? 60_000, now: () => new Date(Date.now() + skewMs) })
  t.test('an instance whose clock is a minute ahead does not take over an attempt still running', async (t) => {
    const receiver = await heldReceiver(t)
    const { key } = await spentTenant(app, 'team', receiver.url)
    const onTime = instance(t, 0)
    const ahead = instance(t, SKEW_AHEAD_MS)
    await onTime.tick()
    await waitFor('the first attempt to reach the receiver', () => receiver.state.requests === 1)
    // The attempt is running (held by the receiver; its lease is the timeout plus 5 s, well under the
    // minute of skew). A takeover would be answered at once, so `ahead.idle()` returns either way.
    await ahead.tick()
    await ahead.idle()
    t.equal(receiver.state.requests, 1, 'one request: the lease held for the instance a minute ahead')
    receiver.release()
    await onTime.idle()
    t.equal(receiver.state.requests, 1, 'and the held attempt was the only one')
    const [alert] = await alerts(app, key, 'team')
    t.equal(alert?.delivery_status, 'delivered')
    t.same(alert?.deliveries.map((d) => d.status_code), [200], 'one attempt recorded')
  })

  t.test('a retry scheduled by an instance ten minutes ahead is due elsewhere after its backoff', async (t) => {
    const receiver = await failingReceiver(t)
    const { tenantId, key } = await spentTenant(app, 'team', receiver.url)
    const dueInMs = async () =>
      Number((await app.testDb.query<{ ms: string }>(sql`select (extract(epoch from next_attempt_at - clock_timestamp()) * 1000)::text as ms from budget_alerts where tenant_id = ${tenantId}`))[0]!.ms)
    const ahead = instance(t, 10 * 60_000, { maxAttempts: 4, retryBaseMs: 100 })
    await ahead.tick()
    await ahead.idle()
    // The instance stops (a restart, a crash) before its own retry timer fires. Under load its pass can
    // outlast the first backoff, and the pass's due-deliveries step then makes that retry too (CI saw two
    // attempts here): one or two attempts, the next one scheduled either way.
    await ahead.close()
    const made = receiver.state.statuses.length
    t.ok(made === 1 || made === 2, `the instance made its attempt and stopped (${made} made)`)
    t.ok((await dueInMs()) < 60_000, 'the next attempt is due by the database clock after its backoff, not ten minutes on')
    await waitFor('the retry to be due', async () => (await dueInMs()) <= 0)
    receiver.state.failing = false
    const onTime = instance(t, 0, { maxAttempts: 4, retryBaseMs: 100 })
    await onTime.tick()
    await onTime.idle()
    t.same(receiver.state.statuses, [...Array<number>(made).fill(500), 200], 'another instance made the retry once its backoff had passed')
    const [alert] = await alerts(app, key, 'team')
    t.equal(alert?.delivery_status, 'delivered')
    t.same(alert?.deliveries.map((d) => d.status_code), receiver.state.statuses)
  })
})
