import t from 'tap'
import { queryUsagePage } from '../../src/usage/usage-service.js'
import type { Window } from '../../src/usage/windows.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// Where DST begins at local midnight (00:00 → 01:00), the day (week, month) that begins then starts at
// 01:00 local. Its end was "start + 1 day" in local time — 01:00 of the next day — so it overlapped the
// next window by an hour, and a budget of that period counted the next day's first hour as its own.
// A window now ends at the next local boundary.

const iso = (d: Date) => d.toISOString().replace('.000Z', 'Z')
const at = (instant: string, input: number) => {
  const s = Date.parse(instant) / 1000
  return { start_time: s, end_time: s + 60, model: 'gpt-4o-mini', num_model_requests: 1, input_tokens: input, output_tokens: 0 }
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BUDGET_EVALUATION_INTERVAL_MS: 'off' })
  const { key, tenantId } = await tenantWithKey(app)
  const res = await app.inject({
    method: 'POST',
    url: '/v1/usage/buckets',
    headers: bearer(key),
    payload: {
      buckets: [
        at('2026-03-08T12:00:00Z', 1), // Havana, Sunday 8 March (DST from 00:00), 08:00 local
        at('2026-03-09T04:30:00Z', 10), // Havana, 9 March 00:30 local
        at('2026-09-06T12:00:00Z', 100), // Santiago, 6 September (DST from 00:00)
        at('2026-09-07T03:30:00Z', 1000), // Santiago, 7 September 00:30 local
        at('2023-10-15T12:00:00Z', 10000), // Asuncion, October 2023 (DST from 1 October 00:00)
        at('2023-11-01T03:30:00Z', 100000), // Asuncion, 1 November 00:30 local
      ],
    },
  })
  t.equal(res.statusCode, 200, res.body)

  const windows = async (from: string, to: string, window: Window, timeZone: string) => {
    const page = await queryUsagePage(app.testDb, {
      tenantId, from: new Date(from), to: new Date(to), window, timeZone, groupBy: [], groupByLabels: [], filter: {}, rateCard: 'default', first: 100,
    }, { maxGroups: 10_000 })
    return page.rows.map((r) => [iso(r.windowStart), iso(r.windowEnd), r.inputTokens])
  }

  t.test('DAY windows tile across a midnight spring-forward', async (t) => {
    t.same(await windows('2026-03-07T00:00:00Z', '2026-03-11T00:00:00Z', 'DAY', 'America/Havana'), [
      ['2026-03-08T05:00:00Z', '2026-03-09T04:00:00Z', 1], // 23 hours: from 01:00 CDT to midnight
      ['2026-03-09T04:00:00Z', '2026-03-10T04:00:00Z', 10],
    ])
    t.same(await windows('2026-09-05T00:00:00Z', '2026-09-09T00:00:00Z', 'DAY', 'America/Santiago'), [
      ['2026-09-06T04:00:00Z', '2026-09-07T03:00:00Z', 100],
      ['2026-09-07T03:00:00Z', '2026-09-08T03:00:00Z', 1000],
    ])
  })

  t.test('a MONTH that starts at 01:00 local ends at the next month’s midnight', async (t) => {
    t.same(await windows('2023-09-01T00:00:00Z', '2023-12-01T00:00:00Z', 'MONTH', 'America/Asuncion'), [
      ['2023-10-01T04:00:00Z', '2023-11-01T03:00:00Z', 10000],
      ['2023-11-01T03:00:00Z', '2023-12-01T03:00:00Z', 100000],
    ])
  })

  t.test('a day budget on that day counts that day only', async (t) => {
    const put = await app.inject({ method: 'PUT', url: '/v1/budgets/havana', headers: bearer(key), payload: { amount: '1000', period: 'day', time_zone: 'America/Havana' } })
    t.equal(put.statusCode, 201, put.body)
    const day = await app.inject({ method: 'GET', url: '/v1/budgets/havana?at=2026-03-08T23:00:00Z', headers: bearer(key) })
    const b = day.json() as { period_start: string; period_end: string; spent: string }
    t.equal(b.period_start, '2026-03-08T05:00:00.000Z')
    t.equal(b.period_end, '2026-03-09T04:00:00.000Z')
    // 1 token of gpt-4o-mini on the default card; the 10 tokens of 9 March 00:30 belong to 9 March.
    const usage = await windows('2026-03-08T05:00:00Z', '2026-03-09T04:00:00Z', 'TOTAL', 'America/Havana')
    t.same(usage.map((r) => r[2]), [1])
    const alone = await queryUsagePage(app.testDb, {
      tenantId, from: new Date('2026-03-08T05:00:00Z'), to: new Date('2026-03-09T04:00:00Z'), window: 'TOTAL', timeZone: 'UTC', groupBy: [], groupByLabels: [], filter: {}, rateCard: 'default', first: 1,
    }, { maxGroups: 10 })
    t.equal(b.spent, alone.totals.cost.total, 'spent is the usage of 8 March alone')
  })
})
