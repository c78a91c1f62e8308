import t from 'tap'
import { build, eachEngine, tenantWithKey, waitFor } from '../helpers.js'
import { alerts, bucket, createCard, postBuckets, putBudget, startReceiver } from '../factories/budgets.js'

// A budget whose webhook_url was removed while an alert waited for a retry went on "delivering" it: every
// remaining attempt was logged as an error and the alert ended `failed` (counted as a failed delivery),
// as if a receiver were down. Without a webhook the alert has nothing to deliver: it ends `none`.

const JAN = new Date('2026-01-10T12:00:00Z')

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, {
    BUDGET_EVALUATION_INTERVAL_MS: 'off',
    OUTBOUND_PRIVATE_ADDRESSES: 'allow',
    // Long enough that the PUT below lands before the second attempt on a loaded machine (300 ms did not, once).
    BUDGET_WEBHOOK_RETRY_BASE_MS: '2000',
    BUDGET_WEBHOOK_MAX_ATTEMPTS: '4',
    BUDGET_WEBHOOK_TIMEOUT_MS: '15000',
  })

  t.test('removing the webhook ends a pending delivery as none, not failed', async (t) => {
    const { tenantId, key } = await tenantWithKey(app)
    const card = await createCard(app, tenantId, `card-${tenantId}`)
    const receiver = await startReceiver(t, [500, 500, 500, 500])
    await putBudget(app, key, 'hook', { amount: '5', period: 'month', rate_card: card, thresholds: [50], webhook_url: receiver.url })
    await postBuckets(app, key, [bucket(JAN, 10)])
    await waitFor('the first attempt', async () => (await alerts(app, key, 'hook'))[0]?.deliveries.length === 1)
    await putBudget(app, key, 'hook', { amount: '5', period: 'month', rate_card: card, thresholds: [50], webhook_url: null })
    await waitFor('the alert to settle', async () => (await alerts(app, key, 'hook'))[0]?.delivery_status !== 'pending')
    const [alert] = await alerts(app, key, 'hook')
    t.equal(alert!.delivery_status, 'none')
    t.equal(receiver.deliveries.length, 1, 'nothing sent after the webhook was removed')
    const metrics = await app.inject({ method: 'GET', url: '/metrics' })
    t.notMatch(metrics.body, /tokenledger_alert_deliveries_total\{[^}]*outcome="failed"[^}]*\} [1-9]/, 'no failed delivery counted')
  })
})
