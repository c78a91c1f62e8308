import { createServer } from 'node:http'
import t, { type Test } from 'tap'
import { build, eachEngine, tenantWithKey } from '../helpers.js'
import { alerts, bucket, createCard, listenAsReceiver, postBuckets, putBudget, settle, startReceiver, testEngine, waitFor } from '../factories/budgets.js'

// Several instances share one database, each with its own clock. A delivery's lease and its retry's due
// time were computed from the instance's clock and compared with another instance's: an instance whose
// clock ran a minute ahead took over an attempt another was still making (the receiver got the alert
// twice at once), and a retry scheduled by an instance ten minutes ahead was not due anywhere else for
// ten minutes more than its backoff. The database's clock is now the one clock for leases and due times.

const TIMEOUT_MS = 3000

/** A receiver that answers 200 after `delayMs`, counting the requests it received. */
async function slowReceiver(t: Test, delayMs: number) {
  const state = { requests: 0 }
  const server = createServer((req, res) => {
    state.requests++
    req.resume()
    const timer = setTimeout(() => res.end('ok'), delayMs)
    res.on('close', () => clearTimeout(timer))
  })
  return { url: await listenAsReceiver(t, server), state }
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BUDGET_EVALUATION_INTERVAL_MS: 'off', OUTBOUND_PRIVATE_ADDRESSES: 'allow' })
  /** An instance's engine whose clock is `skewMs` off the real one (the app's own engine is not used). */
  const instance = (t: Test, skewMs: number, o: { maxAttempts?: number; retryBaseMs?: number } = {}) =>
    testEngine(t, app, { webhookTimeoutMs: TIMEOUT_MS, maxAttempts: o.maxAttempts ?? 1, retryBaseMs: o.retryBaseMs ?? 60_000, now: () => new Date(Date.now() + skewMs) })
  /** A tenant with $370 of usage this month, and then (so that only a timer pass evaluates it) a $1 monthly budget. */
  const spentTenant = async (webhookUrl: string) => {
    const { tenantId, key } = await tenantWithKey(app, ['ingest', 'read'])
    await createCard(app, tenantId, `card-${tenantId}`)
    await postBuckets(app, key, [bucket(new Date(Math.floor(Date.now() / 3600_000) * 3600_000 - 3600_000), 1000)])
    await settle()
    await putBudget(app, key, 'team', { amount: '1', period: 'month', rate_card: `card-${tenantId}`, thresholds: [100], webhook_url: webhookUrl })
    return key
  }

  t.test('an instance whose clock is a minute ahead does not take over an attempt still running', async (t) => {
    const receiver = await slowReceiver(t, 1500)
    const key = await spentTenant(receiver.url)
    const onTime = instance(t, 0)
    const ahead = instance(t, 60_000)
    await onTime.tick()
    await waitFor('the first attempt to reach the receiver', () => receiver.state.requests === 1)
    // The attempt is running (the receiver answers after 1.5 s; its lease is the timeout plus 5 s).
    await ahead.tick()
    await onTime.idle()
    await ahead.idle()
    t.equal(receiver.state.requests, 1, 'one request: the lease held for the instance a minute ahead')
    const [alert] = await alerts(app, key, 'team')
    t.equal(alert?.delivery_status, 'delivered')
    t.same(alert?.deliveries.map((d) => d.status_code), [200], 'one attempt recorded')
  })

  t.test('a retry scheduled by an instance ten minutes ahead is due elsewhere after its backoff', async (t) => {
    const receiver = await startReceiver(t, [500])
    const key = await spentTenant(receiver.url)
    const ahead = instance(t, 10 * 60_000, { maxAttempts: 3, retryBaseMs: 100 })
    await ahead.tick()
    await ahead.idle()
    // The instance stops (a restart, a crash) before its own retry timer fires.
    await ahead.close()
    t.equal(receiver.deliveries.length, 1, 'the first attempt was made')
    await settle(400)
    const onTime = instance(t, 0, { maxAttempts: 3, retryBaseMs: 100 })
    await onTime.tick()
    await onTime.idle()
    t.equal(receiver.deliveries.length, 2, 'another instance made the retry once its 100 ms backoff had passed')
    const [alert] = await alerts(app, key, 'team')
    t.equal(alert?.delivery_status, 'delivered')
    t.same(alert?.deliveries.map((d) => d.status_code), [500, 200])
  })
})
