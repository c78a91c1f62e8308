import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey, waitFor } from '../helpers.js'
import { alerts, bucket, createCard, postBuckets, putBudget, settle } from '../factories/budgets.js'

// A budget switched from `month` to `day` on the 1st has two periods that start at the same instant.
// Alerts were keyed by (budget, period start, threshold), so the month's alerts stood for the day's:
// the day's crossings were never recorded and `crossed` showed the month's.

const FIRST = new Date('2026-02-01T10:00:00Z')

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BUDGET_EVALUATION_INTERVAL_MS: 'off' })

  t.test('after a switch from month to day, the day that starts with the month alerts on its own', async (t) => {
    const { tenantId, key } = await tenantWithKey(app)
    const card = await createCard(app, tenantId, `card-${tenantId}`)
    // 10 tokens at $0.37: $3.70, over 50% of $5.
    await putBudget(app, key, 'team', { amount: '5', period: 'month', rate_card: card, thresholds: [50] })
    await postBuckets(app, key, [bucket(FIRST, 10)])
    await waitFor('the month alert', async () => (await alerts(app, key, 'team')).length === 1)

    await putBudget(app, key, 'team', { amount: '5', period: 'day', rate_card: card, thresholds: [50] })
    const before = await app.inject({ method: 'GET', url: `/v1/budgets/team?at=${encodeURIComponent('2026-02-01T12:00:00Z')}`, headers: bearer(key) })
    const b = before.json() as { period_start: string; period_end: string; crossed: number[] }
    t.same([b.period_start, b.period_end, b.crossed], ['2026-02-01T00:00:00.000Z', '2026-02-02T00:00:00.000Z', [50]], 'spend crosses the day too')
    await postBuckets(app, key, [bucket(new Date(FIRST.getTime() + 3600_000), 1)])
    await waitFor('the day alert', async () => (await alerts(app, key, 'team')).length === 2)
    await settle()
    t.same(
      (await alerts(app, key, 'team')).map((a) => [a.period_start, a.period_end, a.threshold]),
      [
        ['2026-02-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z', 50],
        ['2026-02-01T00:00:00.000Z', '2026-02-02T00:00:00.000Z', 50],
      ],
      'one alert per period, newest period first: the month’s and the day’s',
    )
    await postBuckets(app, key, [bucket(new Date(FIRST.getTime() + 7200_000), 1)])
    await settle()
    t.equal((await alerts(app, key, 'team')).length, 2, 'and still exactly once each')
  })

  t.test('a budget whose only recorded alert is another period’s does not show it as crossed', async (t) => {
    const { tenantId, key } = await tenantWithKey(app)
    const card = await createCard(app, tenantId, `card-${tenantId}`)
    await putBudget(app, key, 'wk', { amount: '5', period: 'month', rate_card: card, thresholds: [50] })
    // 2026-06-01 is a Monday: the month and its first week start together.
    await postBuckets(app, key, [bucket(new Date('2026-06-01T10:00:00Z'), 10)])
    await waitFor('the month alert', async () => (await alerts(app, key, 'wk')).length === 1)
    // Then the budget becomes weekly and the month's usage is deleted: the week has spent nothing.
    await putBudget(app, key, 'wk', { amount: '5', period: 'week', rate_card: card, thresholds: [50] })
    const del = await app.inject({ method: 'DELETE', url: '/v1/usage/buckets?start_time=2026-06-01T00:00:00Z&end_time=2026-06-02T00:00:00Z', headers: bearer(key) })
    t.equal(del.statusCode, 200, del.body)
    const week = await app.inject({ method: 'GET', url: `/v1/budgets/wk?at=${encodeURIComponent('2026-06-02T12:00:00Z')}`, headers: bearer(key) })
    const w = week.json() as { period_start: string; period_end: string; spent: string; crossed: number[] }
    t.same([w.period_start, w.period_end, w.spent, w.crossed], ['2026-06-01T00:00:00.000Z', '2026-06-08T00:00:00.000Z', '0', []])
  })
})
