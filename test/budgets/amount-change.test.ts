import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey, waitFor } from '../helpers.js'
import { alerts, bucket, createCard, postBuckets, putBudget, settle } from '../factories/budgets.js'

// An alert stands for its threshold at the amount it was recorded with. A budget raised mid-period
// kept the alerts of the lower amount: its 50% was "crossed" at 7% of the new amount, and the new 50%
// never alerted. Lowering the amount re-sends nothing (the spend has passed the lower level too).

const JAN = new Date('2026-01-10T12:00:00Z')
const hour = (n: number) => new Date(JAN.getTime() + n * 3600_000)
const AT = `at=${encodeURIComponent('2026-01-20T00:00:00Z')}`

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BUDGET_EVALUATION_INTERVAL_MS: 'off' })
  const status = async (key: string, name: string) =>
    (await app.inject({ method: 'GET', url: `/v1/budgets/${name}?${AT}`, headers: bearer(key) })).json() as { percent_used: string; crossed: number[] }

  t.test('raising the amount mid-period re-arms its thresholds', async (t) => {
    const { tenantId, key } = await tenantWithKey(app)
    const card = await createCard(app, tenantId, `card-${tenantId}`)
    await putBudget(app, key, 'team', { amount: '10', period: 'month', rate_card: card, thresholds: [50] })
    await postBuckets(app, key, [bucket(JAN, 20)]) // $7.40 of $10
    await waitFor('the first alert', async () => (await alerts(app, key, 'team')).length === 1)

    await putBudget(app, key, 'team', { amount: '100', period: 'month', rate_card: card, thresholds: [50] })
    const raised = await status(key, 'team')
    t.same([raised.percent_used, raised.crossed], ['7.4', []], '7.4% of $100 has crossed nothing')
    await postBuckets(app, key, [bucket(hour(1), 120)]) // $51.80 of $100
    await waitFor('the alert at the new amount', async () => (await alerts(app, key, 'team')).length === 2)
    await postBuckets(app, key, [bucket(hour(2), 1)])
    await settle()
    t.same(
      (await alerts(app, key, 'team')).map((a) => [a.threshold, a.amount, a.spent]),
      [
        [50, '100', '51.8'],
        [50, '10', '7.4'],
      ],
      'one alert per threshold and amount, each with the spend it crossed at',
    )
    t.same((await status(key, 'team')).crossed, [50])
  })

  t.test('lowering the amount alerts the thresholds it newly reaches, and re-sends none', async (t) => {
    const { tenantId, key } = await tenantWithKey(app)
    const card = await createCard(app, tenantId, `card-${tenantId}`)
    await putBudget(app, key, 'low', { amount: '10', period: 'month', rate_card: card, thresholds: [50, 80] })
    await postBuckets(app, key, [bucket(JAN, 20)]) // 74%
    await waitFor('the 50% alert', async () => (await alerts(app, key, 'low')).length === 1)
    await putBudget(app, key, 'low', { amount: '9', period: 'month', rate_card: card, thresholds: [50, 80] })
    t.same((await status(key, 'low')).crossed, [50, 80])
    await postBuckets(app, key, [bucket(hour(1), 1)]) // $7.77 of $9: 86%
    await waitFor('the 80% alert', async () => (await alerts(app, key, 'low')).length === 2)
    await settle()
    t.same(
      (await alerts(app, key, 'low')).map((a) => [a.threshold, a.amount]),
      [
        [80, '9'],
        [50, '10'],
      ],
    )
  })

  t.test('a threshold removed from the budget is no longer listed as crossed', async (t) => {
    const { tenantId, key } = await tenantWithKey(app)
    const card = await createCard(app, tenantId, `card-${tenantId}`)
    await putBudget(app, key, 'th', { amount: '10', period: 'month', rate_card: card, thresholds: [50] })
    await postBuckets(app, key, [bucket(JAN, 20)]) // 74%
    await waitFor('the 50% alert', async () => (await alerts(app, key, 'th')).length === 1)
    await putBudget(app, key, 'th', { amount: '10', period: 'month', rate_card: card, thresholds: [80] })
    t.same((await status(key, 'th')).crossed, [])
  })
})
