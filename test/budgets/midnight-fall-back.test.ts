import { Decimal } from 'decimal.js'
import t from 'tap'
import { queryUsagePage } from '../../src/usage/usage-service.js'
import { bearer, build, eachEngine, tenantWithKey, waitFor } from '../helpers.js'
import { alerts, bucket, createCard, postBuckets, PRICES, putBudget, settle } from '../factories/budgets.js'

// Havana falls back from 01:00 CDT to 00:00 CST on 1 November 2026, so 00:00–01:00 happens twice.
// PostgreSQL starts the local day at the second 00:00 (05:00Z), and `usage` puts the rows of the first
// one (04:00Z–05:00Z) in 1 November — after their own start. A day budget read its spend over
// [period_start, period_end): 31 October's held those rows too (counted twice), 1 November's never did,
// and an ingest of such a row alone evaluated a range that left it out.

const cost = (input: number) => new Decimal(input).times(PRICES.input).times('0.000001').toFixed()
const FIRST_HOUR = new Date('2026-11-01T04:30:00Z') // 00:30 CDT, 1 November
const OCT_31 = new Date('2026-10-31T12:00:00Z')

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BUDGET_EVALUATION_INTERVAL_MS: 'off' })
  const { tenantId, key } = await tenantWithKey(app)
  const card = await createCard(app, tenantId, `card-${tenantId}`)
  const minute = (at: Date, input: number) => ({ ...bucket(at, input), end_time: Math.floor(at.getTime() / 1000) + 60 })
  const get = async (at: string) => {
    const res = await app.inject({ method: 'GET', url: `/v1/budgets/havana?at=${at}`, headers: bearer(key) })
    t.equal(res.statusCode, 200, res.body)
    return res.json() as { period_start: string; period_end: string; spent: string; crossed: number[] }
  }

  // $10 a day: 30 tokens ($11.10) cross it, 3 tokens do not.
  await putBudget(app, key, 'havana', { amount: '10', period: 'day', time_zone: 'America/Havana', rate_card: card, thresholds: [100] })

  t.test('an ingest of a row in the repeated hour alone crosses the day it belongs to', async (t) => {
    await postBuckets(app, key, [minute(FIRST_HOUR, 30)])
    await waitFor('the 1 November alert', async () => (await alerts(app, key, 'havana')).length === 1)
    const [alert] = await alerts(app, key, 'havana')
    t.match(alert, { period_start: '2026-11-01T05:00:00.000Z', period_end: '2026-11-02T05:00:00.000Z', spent: cost(30), threshold: 100 })
  })

  t.test('each day’s spend is the usage of its DAY window, counted once', async (t) => {
    await postBuckets(app, key, [minute(OCT_31, 3)])
    await settle()
    const usage = await queryUsagePage(app.testDb, {
      tenantId, from: new Date('2026-10-31T00:00:00Z'), to: new Date('2026-11-03T00:00:00Z'), window: 'DAY', timeZone: 'America/Havana',
      groupBy: [], groupByLabels: [], filter: {}, rateCard: card, first: 10,
    }, { maxGroups: 100 })
    t.same(usage.rows.map((r) => [r.windowStart.toISOString(), r.cost.total]), [
      ['2026-10-31T04:00:00.000Z', cost(3)],
      ['2026-11-01T05:00:00.000Z', cost(30)],
    ])
    const oct31 = await get('2026-10-31T23:00:00Z')
    t.match(oct31, { period_start: '2026-10-31T04:00:00.000Z', spent: cost(3), crossed: [] }, '31 October: its own row only')
    const nov1 = await get('2026-11-01T12:00:00Z')
    t.match(nov1, { period_start: '2026-11-01T05:00:00.000Z', spent: cost(30), crossed: [100] }, '1 November: the repeated hour’s row')
    t.equal((await alerts(app, key, 'havana')).length, 1, 'no alert for 31 October')
  })
})
