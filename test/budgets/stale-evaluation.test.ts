import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey, waitFor } from '../helpers.js'
import { alerts, bucket, createCard, postBuckets, putBudget, staleEvaluation } from '../factories/budgets.js'

// An evaluation reads its budget first and records the crossings it found last. The timer's pass lists
// every budget once and then evaluates them one by one (and an ingest's evaluation lists the tenant's),
// so a PUT or DELETE can land between the two. The stale evaluation recorded its crossings at the amount,
// thresholds and webhook it had read: after the amount was lowered from 14 to 10 and the 50% alert was
// recorded at 10, it recorded the same threshold again at 14 (a second webhook for one crossing, beside
// "exactly once"); after a raise to 100 it alerted 50% of a budget 7.4% used; a threshold removed by the
// PUT was alerted; a deleted budget's evaluation failed on the foreign key. Here the stale evaluation is
// replayed exactly as the timer runs it: listAllBudgets before the PUT, evaluateBudget after it.

const JAN = new Date('2026-01-10T12:00:00Z')

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BUDGET_EVALUATION_INTERVAL_MS: 'off' })

  const { listed, evaluateStale } = staleEvaluation(app.testDb)

  t.test('an amount lowered while the evaluation ran: the crossing is recorded once, at the current amount', async (t) => {
    const { tenantId, key } = await tenantWithKey(app)
    const card = await createCard(app, tenantId, `card-${tenantId}`)
    await putBudget(app, key, 'lowered', { amount: '14', period: 'month', rate_card: card, thresholds: [50] })
    const stale = await listed(tenantId, 'lowered')
    await putBudget(app, key, 'lowered', { amount: '10', period: 'month', rate_card: card, thresholds: [50] })
    await postBuckets(app, key, [bucket(JAN, 20)]) // $7.40: 74% of $10, 52.9% of $14
    await waitFor('the alert after ingest', async () => (await alerts(app, key, 'lowered')).length === 1)
    t.same((await alerts(app, key, 'lowered')).map((a) => [a.threshold, a.amount]), [[50, '10']], 'the ingest recorded 50% at $10')
    t.same(await evaluateStale(stale), [], 'the evaluation that read $14 records nothing more')
    t.same((await alerts(app, key, 'lowered')).map((a) => [a.threshold, a.amount]), [[50, '10']], 'one alert for the one crossing')
  })

  t.test('an amount raised while the evaluation ran: nothing is crossed at the current amount', async (t) => {
    const { tenantId, key } = await tenantWithKey(app)
    const card = await createCard(app, tenantId, `card-${tenantId}`)
    await putBudget(app, key, 'raised', { amount: '10', period: 'month', rate_card: card, thresholds: [50] })
    const stale = await listed(tenantId, 'raised')
    await putBudget(app, key, 'raised', { amount: '100', period: 'month', rate_card: card, thresholds: [50] })
    // Its own evaluation (at $100) records nothing, whenever it runs.
    await postBuckets(app, key, [bucket(JAN, 20)]) // $7.40: 7.4% of $100
    t.same(await evaluateStale(stale), [], 'the evaluation that read $10 records nothing')
    t.same(await alerts(app, key, 'raised'), [], 'no alert for a budget 7.4% used')
  })

  t.test('a threshold removed while the evaluation ran is not alerted', async (t) => {
    const { tenantId, key } = await tenantWithKey(app)
    const card = await createCard(app, tenantId, `card-${tenantId}`)
    await putBudget(app, key, 'moved', { amount: '10', period: 'month', rate_card: card, thresholds: [50] })
    const stale = await listed(tenantId, 'moved')
    await putBudget(app, key, 'moved', { amount: '10', period: 'month', rate_card: card, thresholds: [80] })
    await postBuckets(app, key, [bucket(JAN, 20)]) // 74%: 50 would be met, 80 is not
    t.same(await evaluateStale(stale), [], 'the evaluation that read [50] records nothing')
    t.same(await alerts(app, key, 'moved'), [], 'the budget has no 50% threshold any more')
  })

  t.test('a budget deleted while the evaluation ran: nothing recorded, no failure', async (t) => {
    const { tenantId, key } = await tenantWithKey(app)
    const card = await createCard(app, tenantId, `card-${tenantId}`)
    await putBudget(app, key, 'gone', { amount: '10', period: 'month', rate_card: card, thresholds: [50] })
    await postBuckets(app, key, [bucket(JAN, 20)])
    await waitFor('the alert after ingest', async () => (await alerts(app, key, 'gone')).length === 1)
    const stale = await listed(tenantId, 'gone')
    const del = await app.inject({ method: 'DELETE', url: '/v1/budgets/gone', headers: bearer(key) })
    t.equal(del.statusCode, 204)
    t.same(await evaluateStale(stale), [], 'the evaluation of the deleted budget records nothing (it failed on the foreign key)')
  })
})
