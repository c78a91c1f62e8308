import t from 'tap'
import { build, eachEngine, tenantWithKey, waitFor } from '../helpers.js'
import { alerts, bucket, createCard, postBuckets, putBudget, staleEvaluation } from '../factories/budgets.js'

// As stale-evaluation.test.ts, for what a PUT changes besides the amount and thresholds: the period, the
// filter, the time zone and the rate card. An evaluation that read the budget before such a PUT computed
// the spend the budget no longer measures (last month's total, a model it no longer counts, another
// zone's day, other prices) and recorded it against the current budget: a day budget was alerted with a
// month's period and spend beside its own day alert, and a budget narrowed to a model with no usage was
// told it was 74% used. A crossing is recorded only while the budget still measures what was evaluated.

const JAN = new Date('2026-01-10T12:00:00Z')

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BUDGET_EVALUATION_INTERVAL_MS: 'off' })

  const { listed, evaluateStale } = staleEvaluation(app.testDb)
  const periods = async (key: string, name: string) =>
    (await alerts(app, key, name)).map((a) => [a.threshold, a.period_start, a.period_end])

  t.test('a period switched while the evaluation ran: the old period is not alerted', async (t) => {
    const { tenantId, key } = await tenantWithKey(app)
    const card = await createCard(app, tenantId, `card-${tenantId}`)
    await putBudget(app, key, 'switched', { amount: '10', period: 'month', rate_card: card, thresholds: [50] })
    const stale = await listed(tenantId, 'switched')
    await putBudget(app, key, 'switched', { amount: '10', period: 'day', rate_card: card, thresholds: [50] })
    await postBuckets(app, key, [bucket(JAN, 20)]) // $7.40: 74% of the day's $10
    await waitFor('the day alert after ingest', async () => (await alerts(app, key, 'switched')).length === 1)
    const day = [[50, '2026-01-10T00:00:00.000Z', '2026-01-11T00:00:00.000Z']]
    t.same(await periods(key, 'switched'), day, 'the ingest recorded the day')
    t.same(await evaluateStale(stale), [], 'the evaluation that read a month budget records nothing')
    t.same(await periods(key, 'switched'), day, 'one alert, for the period the budget has')
  })

  t.test('a filter narrowed while the evaluation ran: usage it no longer counts crosses nothing', async (t) => {
    const { tenantId, key } = await tenantWithKey(app)
    const card = await createCard(app, tenantId, `card-${tenantId}`)
    await putBudget(app, key, 'narrowed', { amount: '10', period: 'month', rate_card: card, thresholds: [50] })
    const stale = await listed(tenantId, 'narrowed')
    await putBudget(app, key, 'narrowed', { amount: '10', period: 'month', rate_card: card, thresholds: [50], filter: { models: ['another-model'] } })
    await postBuckets(app, key, [bucket(JAN, 20)])
    t.same(await evaluateStale(stale), [], 'the evaluation that counted every model records nothing')
    t.same(await alerts(app, key, 'narrowed'), [], 'no alert for a budget whose spend is 0')
  })

  t.test('a time zone changed while the evaluation ran: the other zone’s day is not alerted', async (t) => {
    const { tenantId, key } = await tenantWithKey(app)
    const card = await createCard(app, tenantId, `card-${tenantId}`)
    await putBudget(app, key, 'moved-zone', { amount: '10', period: 'day', time_zone: 'UTC', rate_card: card, thresholds: [50] })
    const stale = await listed(tenantId, 'moved-zone')
    await putBudget(app, key, 'moved-zone', { amount: '10', period: 'day', time_zone: 'Asia/Tokyo', rate_card: card, thresholds: [50] })
    await postBuckets(app, key, [bucket(JAN, 20)])
    await waitFor('the Tokyo day alert after ingest', async () => (await alerts(app, key, 'moved-zone')).length === 1)
    const tokyo = [[50, '2026-01-09T15:00:00.000Z', '2026-01-10T15:00:00.000Z']] // 21:00 in Tokyo, 10 January
    t.same(await periods(key, 'moved-zone'), tokyo, 'the ingest recorded the Tokyo day')
    t.same(await evaluateStale(stale), [], 'the evaluation that read UTC records nothing')
    t.same(await periods(key, 'moved-zone'), tokyo, 'one alert, for the day the budget has')
  })

  t.test('a rate card changed while the evaluation ran: the old card’s prices cross nothing', async (t) => {
    const { tenantId, key } = await tenantWithKey(app)
    const card = await createCard(app, tenantId, `card-${tenantId}`)
    await putBudget(app, key, 'repriced', { amount: '10', period: 'month', rate_card: card, thresholds: [50] })
    const stale = await listed(tenantId, 'repriced')
    // `default` has no price for the test model: the budget's spend is 0 (incomplete).
    await putBudget(app, key, 'repriced', { amount: '10', period: 'month', rate_card: 'default', thresholds: [50] })
    await postBuckets(app, key, [bucket(JAN, 20)])
    t.same(await evaluateStale(stale), [], 'the evaluation priced with the old card records nothing')
    t.same(await alerts(app, key, 'repriced'), [], 'no alert for a budget whose card prices none of it')
  })
})
