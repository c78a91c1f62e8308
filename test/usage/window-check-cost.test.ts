import t from 'tap'
import { queryUsagePage } from '../../src/usage/usage-service.js'
import { seedBuckets, seedCard } from '../factories/usage.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// Whether the hourly rollups may serve a query in a zone other than UTC is checked at every window start
// of the range. It was checked at every whole hour: a MONTH query in America/New_York from 1970 to 9999 —
// 96,000 windows, inside the windows limit — computed 70 million window starts before reading a row, past
// the statement timeout on PostgreSQL and for minutes with PGlite's event loop held (1970 to 3000: a minute).

const FROM = '1970-01-01T00:00:00Z'
const TO = '9999-01-01T00:00:00Z'

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { STATEMENT_TIMEOUT_MS: '10000' })
  const { tenantId, key } = await tenantWithKey(app, ['ingest', 'read'])
  const card = `c-${tenantId}`
  await seedCard(app.testDb, card, [{ model: 'gpt-5*', effectiveFrom: new Date('2020-01-01T00:00:00Z'), prices: { input: '1.25', output: '10' } }])
  await seedBuckets(app.testDb, tenantId, [
    { start: new Date('2025-03-09T06:00:00Z'), end: new Date('2025-03-09T07:00:00Z'), model: 'gpt-5', inText: 1000, outText: 10, requests: 2 },
    { start: new Date('2025-11-01T03:00:00Z'), end: new Date('2025-11-01T04:00:00Z'), model: 'gpt-5', inText: 500, outText: 5, requests: 1 },
  ])

  for (const [window, timeZone, to] of [['MONTH', 'America/New_York', TO], ['WEEK', 'Europe/Berlin', '3000-01-01T00:00:00Z'], ['DAY', 'Asia/Kolkata', '2400-01-01T00:00:00Z']] as const) {
    t.test(`${window} in ${timeZone} from 1970 to ${to.slice(0, 4)} answers within the statement timeout`, async (t) => {
      const started = Date.now()
      const res = await app.inject({
        method: 'POST',
        url: '/graphql',
        headers: bearer(key),
        payload: { query: `{ usage(from: "${FROM}", to: "${to}", window: ${window}, timeZone: "${timeZone}", rateCard: "${card}", first: 10) { rows { windowStart inputTokens cost { total } } totals { inputTokens cost { total } } } }` },
      })
      t.equal(res.statusCode, 200, res.body.slice(0, 500))
      const usage = res.json().data?.usage
      t.same(usage?.totals, { inputTokens: 1500, cost: { total: '0.002025' } })
      t.ok(Date.now() - started < 10_000, `answered in ${Date.now() - started} ms`)
      const viaBase = await queryUsagePage(app.testDb, {
        tenantId, from: new Date(FROM), to: new Date(to), window, timeZone, groupBy: [], groupByLabels: [], filter: {},
        rateCard: card, first: 10, rollups: false,
      }, { maxGroups: 200_000 })
      t.same(usage?.rows, viaBase.rows.map((r) => ({ windowStart: r.windowStart.toISOString(), inputTokens: r.inputTokens, cost: { total: r.cost.total } })), 'the base table\'s rows')
    })
  }
})
