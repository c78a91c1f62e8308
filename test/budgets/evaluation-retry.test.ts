import t from 'tap'
import { alerts, bucket, createCard, postBuckets, putBudget } from '../factories/budgets.js'
import { build, holdLocks, tenantWithKey, waitFor, waitUntilBlocked } from '../helpers.js'

// The timer evaluates only current periods; a crossing in an earlier one (a backfill, a connection's
// lag window reaching into last month) is found only by the evaluation after its ingest. When the
// database failed that evaluation (unreachable, a saturated pool, a statement timeout), the crossing
// was never recorded. It is now evaluated again once the database answers. A lock on budget_alerts
// held elsewhere makes the evaluation time out while the ingest itself is served; PGlite runs one
// statement at a time, so nothing can hold such a lock there.
t.test('an evaluation after ingest that the database failed runs again', { skip: !process.env.TEST_DATABASE_URL && 'needs TEST_DATABASE_URL (PGlite cannot fail a statement on a lock)' }, async (t) => {
  // 1 s, not less: every statement of the test runs under it, and a loaded 2-core machine (CI) can keep one
  // off the CPU for a good part of a second.
  const app = await build(t, 'postgres', { STATEMENT_TIMEOUT_MS: '1000', BUDGET_EVALUATION_INTERVAL_MS: 'off' })
  const { tenantId, key } = await tenantWithKey(app)
  const card = await createCard(app, tenantId, `card-${tenantId}`)
  // $100 a month; 150 input tokens at $0.37 = $55.50 in January 2026, a closed period.
  await putBudget(app, key, 'backfill', { amount: '100', period: 'month', rate_card: card, thresholds: [50] })

  const lock = await holdLocks(t, app.testDb, 'lock table budget_alerts in access exclusive mode')

  await postBuckets(app, key, [bucket(new Date('2026-01-10T12:00:00Z'), 150)])
  // The evaluation after the ingest meets the lock (seen, not assumed after a sleep) and times out (1 s). A
  // release before that only lets the first evaluation succeed: the pause is past the timeout, with room.
  await waitUntilBlocked(app.testDb, { query: '%budget_alerts%' })
  await new Promise((r) => setTimeout(r, 1_500))
  await lock.release()

  await waitFor('the January crossing to be recorded', async () => (await alerts(app, key, 'backfill')).length > 0, { timeoutMs: 10_000 }).catch(() => {})
  const recorded = await alerts(app, key, 'backfill')
  t.same(recorded.map((a) => [a.threshold, a.period_start]), [[50, '2026-01-01T00:00:00.000Z']], 'the crossing is recorded once the database answers')
})
