import { Decimal } from 'decimal.js'
import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey, waitFor } from '../helpers.js'
import { alerts, bucket, createCard, postBuckets, PRICES, putBudget, settle } from '../factories/budgets.js'
import { clearOfTurn, nextLocalDay } from '../factories/turns.js'

const D = Decimal.clone({ precision: 100 })
const half12 = (d: Decimal) => d.toDecimalPlaces(12, Decimal.ROUND_HALF_EVEN).toFixed().replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '')
const cost = (input: number) => new D(input).times(PRICES.input).dividedBy(1_000_000)
const iso = (s: string) => new Date(s).toISOString()

/** Local midnight of `at`'s calendar day in `tz`, found with Intl (independent of the server's SQL). */
function localDayStart(at: Date, tz: string): Date {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  )
  const wallAsUtc = Date.UTC(+parts.year!, +parts.month! - 1, +parts.day!, +parts.hour!, +parts.minute!, +parts.second!)
  const offset = wallAsUtc - Math.floor(at.getTime() / 1000) * 1000
  return new Date(Date.UTC(+parts.year!, +parts.month! - 1, +parts.day!) - offset)
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BUDGET_EVALUATION_INTERVAL_MS: 'off' })
  const setup = async () => {
    const { tenantId, key } = await tenantWithKey(app)
    return { key, card: await createCard(app, tenantId, `card-${tenantId}`) }
  }
  const get = async (key: string, name: string, at: string) => {
    const res = await app.inject({ method: 'GET', url: `/v1/budgets/${name}?at=${encodeURIComponent(at)}`, headers: bearer(key) })
    if (res.statusCode !== 200) throw new Error(res.body)
    return res.json() as Record<string, string>
  }

  t.test('23:59 on March 31 and 00:01 on April 1 in New York are two monthly periods (DST month)', async (t) => {
    const { key, card } = await setup()
    await putBudget(app, key, 'ny', { amount: '1', period: 'month', time_zone: 'America/New_York', rate_card: card, thresholds: [100] })
    await putBudget(app, key, 'utc', { amount: '1', period: 'month', time_zone: 'UTC', rate_card: card, thresholds: [100] })
    const lastMinute = new Date('2026-03-31T23:59:00-04:00')
    const firstMinute = new Date('2026-04-01T00:01:00-04:00')
    await postBuckets(app, key, [
      { ...bucket(lastMinute, 3), end_time: Math.floor(lastMinute.getTime() / 1000) + 60 },
      { ...bucket(firstMinute, 3), end_time: Math.floor(firstMinute.getTime() / 1000) + 60 },
    ])
    await waitFor('two NY alerts', async () => (await alerts(app, key, 'ny')).length === 2)
    await waitFor('the UTC alert', async () => (await alerts(app, key, 'utc')).length === 1)
    await settle()
    const ny = (await alerts(app, key, 'ny')).map((a) => [a.period_start, a.period_end, a.spent])
    // March begins in EST (−05:00) and ends in EDT (−04:00).
    t.same(ny, [
      [iso('2026-04-01T00:00:00-04:00'), iso('2026-05-01T00:00:00-04:00'), cost(3).toFixed()],
      [iso('2026-03-01T00:00:00-05:00'), iso('2026-04-01T00:00:00-04:00'), cost(3).toFixed()],
    ])
    const utc = await alerts(app, key, 'utc')
    t.same(utc.map((a) => [a.period_start, a.spent]), [[iso('2026-04-01T00:00:00Z'), cost(6).toFixed()]], 'both rows are April in UTC')
  })

  t.test('forecast and percentUsed are exact: run rate over the whole period, rounded half-even to 12 places', async (t) => {
    const { key, card } = await setup()
    await putBudget(app, key, 'fc', { amount: '7', period: 'month', time_zone: 'Asia/Kolkata', rate_card: card, thresholds: [1000] })
    await postBuckets(app, key, [bucket(new Date('2026-01-02T00:00:00Z'), 13), bucket(new Date('2026-01-05T03:00:00Z'), 29)])
    const at = '2026-01-09T07:31:13.457Z'
    const b = await get(key, 'fc', at)
    const start = new Date('2026-01-01T00:00:00+05:30')
    const end = new Date('2026-02-01T00:00:00+05:30')
    const spent = cost(42)
    t.equal(b.spent, spent.toFixed())
    t.equal(b.period_start, start.toISOString())
    t.equal(b.period_end, end.toISOString())
    const expected = spent.times(end.getTime() - start.getTime()).dividedBy(new Date(at).getTime() - start.getTime())
    t.equal(b.forecast, half12(expected))
    t.equal(b.percent_used, half12(spent.times(100).dividedBy(7)))
    t.equal((await get(key, 'fc', '2026-02-15T00:00:00Z')).spent, '0', 'the next period starts from nothing')
  })

  t.test('week periods start on Monday, local time', async (t) => {
    const { key, card } = await setup()
    await putBudget(app, key, 'wk', { amount: '5', period: 'week', time_zone: 'Europe/Paris', rate_card: card })
    const b = await get(key, 'wk', '2026-03-08T12:00:00Z') // a Sunday
    t.equal(b.period_start, iso('2026-03-02T00:00:00+01:00'))
    t.equal(b.period_end, iso('2026-03-09T00:00:00+01:00'))
  })

  t.test('rolling 30 days moves with time; forecast equals spent', async (t) => {
    const { key, card } = await setup()
    await putBudget(app, key, 'r30', { amount: '100', period: 'rolling_30d', rate_card: card })
    await postBuckets(app, key, [bucket(new Date('2026-02-01T00:00:00Z'), 10)])
    const inside = await get(key, 'r30', '2026-03-02T23:00:00Z')
    t.equal(inside.spent, cost(10).toFixed())
    t.equal(inside.forecast, inside.spent)
    t.equal(inside.period_start, iso('2026-01-31T23:00:00Z'))
    t.equal(inside.period_end, iso('2026-03-02T23:00:00Z'))
    t.equal((await get(key, 'r30', '2026-03-03T00:00:01Z')).spent, '0', 'the bucket has left the window')
  })

  t.test('a rolling budget alerts once per local day of detection, after event ingest', async (t) => {
    const { key, card } = await setup()
    const tz = 'America/New_York'
    await putBudget(app, key, 'ev', { amount: '1', period: 'rolling_7d', time_zone: tz, rate_card: card, thresholds: [100], filter: { sources: ['events'] } })
    // Both evaluations (the database's clock, a second or so apart) in one New York day: midnight falling
    // between them recorded a second alert, rightly, for the new day.
    await clearOfTurn(nextLocalDay(tz), 60_000)
    const post = (id: string) =>
      app.inject({ method: 'POST', url: '/v1/usage/events', headers: bearer(key), payload: { events: [{ id, timestamp: new Date(Date.now() - 3600_000).toISOString(), model: 'budget-test-model', input_tokens: 5, output_tokens: 0 }] } })
    t.equal((await post('e1')).statusCode, 200)
    await waitFor('the alert', async () => (await alerts(app, key, 'ev')).length === 1)
    await post('e2')
    await settle()
    const list = await alerts(app, key, 'ev')
    t.equal(list.length, 1, 'still one alert today')
    const day = localDayStart(new Date(list[0]!.crossed_at), tz)
    t.equal(list[0]!.period_start, day.toISOString())
  })
})

t.test('the timer evaluates the current period without any ingest', async (t) => {
  const app = await build(t, 'pglite', { BUDGET_EVALUATION_INTERVAL_MS: '200' })
  const { tenantId, key } = await tenantWithKey(app)
  const card = await createCard(app, tenantId, `card-${tenantId}`)
  await postBuckets(app, key, [bucket(new Date(Math.floor(Date.now() / 3600_000) * 3600_000 - 3600_000 * 24), 10)])
  await putBudget(app, key, 'timer', { amount: '1', period: 'rolling_30d', rate_card: card, thresholds: [100] })
  await waitFor('the timer’s alert', async () => (await alerts(app, key, 'timer')).length === 1)
  t.pass('recorded by the timer')
})
