import t, { type Test } from 'tap'
import { sql } from 'drizzle-orm'
import { build, eachEngine, tenantWithKey } from '../helpers.js'
import { alerts, bucket, createCard, postBuckets, putBudget, settle, testEngine, usageHour } from '../factories/budgets.js'

// Budgets were evaluated at each instance's clock while deliveries used the database's (c231b6a). An
// instance whose clock ran ahead took a later period as the current one — its timer never recorded a
// crossing in the real current month — and recorded a rolling budget's crossing in a day that had not
// begun, at an instant that had not come. Evaluations are now at the database's clock, whatever the
// instance's says.

const DAY_MS = 86_400_000

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BUDGET_EVALUATION_INTERVAL_MS: 'off', OUTBOUND_PRIVATE_ADDRESSES: 'allow' })
  const dbNow = async () => new Date((await app.testDb.query<{ now: Date }>(sql`select clock_timestamp() as now`))[0]!.now)
  /** An instance whose clock is `skewMs` ahead of the real one (the app's own engine is not used). */
  const ahead = (t: Test, skewMs: number) =>
    testEngine(t, app, { webhookTimeoutMs: 3000, maxAttempts: 1, retryBaseMs: 60_000, now: () => new Date(Date.now() + skewMs) })
  /** A tenant with $370 of usage this month (usageHour), and then (so only a timer pass evaluates it) a $1 budget. */
  const spentTenant = async (period: string) => {
    const { tenantId, key } = await tenantWithKey(app, ['ingest', 'read'])
    await createCard(app, tenantId, `card-${tenantId}`)
    await postBuckets(app, key, [bucket(await usageHour(), 1000)])
    await settle()
    await putBudget(app, key, 'team', { amount: '1', period, rate_card: `card-${tenantId}`, thresholds: [100] })
    return key
  }

  t.test("an instance 40 days ahead records a month budget's crossing in the current month", async (t) => {
    const key = await spentTenant('month')
    const before = await dbNow()
    await ahead(t, 40 * DAY_MS).tick()
    const after = await dbNow()
    const [alert] = await alerts(app, key, 'team')
    t.ok(alert, 'the crossing is recorded')
    t.equal(alert?.period_start, new Date(Date.UTC(before.getUTCFullYear(), before.getUTCMonth(), 1)).toISOString(), 'in the current month')
    t.ok(alert && Date.parse(alert.crossed_at) >= before.getTime() && Date.parse(alert.crossed_at) <= after.getTime(), "crossed at the database's time")
  })

  t.test("an instance a day ahead records a rolling budget's crossing in today's day, at the database's time", async (t) => {
    const key = await spentTenant('rolling_7d')
    const before = await dbNow()
    await ahead(t, DAY_MS).tick()
    const after = await dbNow()
    const [alert] = await alerts(app, key, 'team')
    t.ok(alert && Date.parse(alert.crossed_at) >= before.getTime() && Date.parse(alert.crossed_at) <= after.getTime(), "crossed at the database's time")
    // The day of the crossing's instant, not of `before`: midnight can fall between `before` and the evaluation.
    const crossed = Date.parse(alert?.crossed_at ?? '')
    t.equal(alert?.period_start, new Date(Math.floor(crossed / DAY_MS) * DAY_MS).toISOString(), "today's day (UTC)")
  })
})
