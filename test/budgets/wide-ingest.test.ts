import t from 'tap'
import { build, eachEngine, tenantWithKey, waitFor } from '../helpers.js'
import { alerts, bucket, createCard, postBuckets, putBudget, settle } from '../factories/budgets.js'

// The evaluation after an ingest asks for every period between the earliest and the latest row written.
// One row far from the others (a year-9999 typo beside January's usage) made that more day windows than a
// usage query may span: the evaluation failed, and January's crossing was never recorded (the timer
// evaluates the current period only).

const JAN = new Date('2026-01-10T12:00:00Z')
const FAR = new Date('9999-12-30T00:00:00Z')

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BUDGET_EVALUATION_INTERVAL_MS: 'off' })

  for (const period of ['day', 'week'] as const)
    t.test(`a ${period} budget alerts for rows written together with one far in the future`, async (t) => {
      const { tenantId, key } = await tenantWithKey(app)
      const card = await createCard(app, tenantId, `card-${tenantId}`)
      await putBudget(app, key, 'wide', { amount: '5', period, rate_card: card, thresholds: [50] })
      await postBuckets(app, key, [bucket(JAN, 10), bucket(FAR, 1)]) // $3.70 of $5 in January; $0.37 far away
      await waitFor('the January alert', async () => (await alerts(app, key, 'wide')).length === 1, { timeoutMs: 8_000 }).catch(() => undefined)
      await settle()
      const listed = await alerts(app, key, 'wide')
      t.same(listed.map((a) => [a.threshold, a.spent]), [[50, '3.7']], 'January crossed 50%, once; the far row crossed nothing')
    })
})
