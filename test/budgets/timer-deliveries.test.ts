import { createServer } from 'node:net'
import t, { type Test } from 'tap'
import { build, eachEngine, tenantWithKey, uniqueId, waitFor } from '../helpers.js'
import { bucket, createCard, listenAsReceiver, postBuckets, putBudget, settle, startReceiver, testEngine, usageHour } from '../factories/budgets.js'

// The timer's pass delivered one alert at a time, waiting for each answer: a tenant whose receiver
// never answers held every other tenant's alerts (and retries) for the webhook timeout once per alert.

// 10 s: the other tenant's delivery must arrive within one webhook timeout, and on a loaded 2-core
// machine (CI) the pass before it (evaluations, a delivery's claim) can take seconds. The silent
// tenant's six alerts delivered one at a time would hold it for six of them.
const TIMEOUT_MS = 10_000

/** A receiver that accepts connections and never answers. */
const silentReceiver = (t: Test) => listenAsReceiver(t, createServer())

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BUDGET_EVALUATION_INTERVAL_MS: 'off', OUTBOUND_PRIVATE_ADDRESSES: 'allow' })

  t.test("a receiver that never answers does not hold another tenant's alert", async (t) => {
    // The timer walks tenants in id order: the silent one comes first.
    const [first, second] = [uniqueId('tenant'), uniqueId('tenant')].sort()
    const silent = await tenantWithKey(app, ['ingest', 'read'], first)
    const other = await tenantWithKey(app, ['ingest', 'read'], second)
    const hour = await usageHour()
    // Usage first, budgets after: only the timer's pass evaluates them.
    for (const { tenantId, key } of [silent, other]) {
      await createCard(app, tenantId, `card-${tenantId}`)
      await postBuckets(app, key, [bucket(hour, 1000)]) // $370 this month
    }
    await settle()
    const hook = await silentReceiver(t)
    for (const name of ['a', 'b', 'c'])
      await putBudget(app, silent.key, name, { amount: '1', period: 'month', rate_card: `card-${silent.tenantId}`, thresholds: [50, 100], webhook_url: hook })
    const receiver = await startReceiver(t)
    await putBudget(app, other.key, 'team', { amount: '1', period: 'month', rate_card: `card-${other.tenantId}`, thresholds: [50], webhook_url: receiver.url })
    // The timer's engine, as the app runs it (the app's own timer is off and is not reachable from here).
    const engine = testEngine(t, app, { webhookTimeoutMs: TIMEOUT_MS, maxAttempts: 1, retryBaseMs: 1000 })

    const started = Date.now()
    const pass = engine.tick()
    await waitFor('the other tenant’s delivery', () => receiver.deliveries.length === 1, { timeoutMs: 3 * TIMEOUT_MS })
    const waited = Date.now() - started
    t.ok(waited < TIMEOUT_MS, `delivered after ${waited} ms, less than one webhook timeout (${TIMEOUT_MS} ms)`)
    await pass
    await engine.idle()
  })
})
