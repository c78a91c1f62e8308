import t from 'tap'
import { sql } from 'drizzle-orm'
import { queryUsagePage, type UsageArgs } from '../../src/usage/usage-service.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// MINUTE and HOUR windows start on the local boundary in the offset in force at each bucket. Where the
// offset changes by part of an hour (Australia/Lord_Howe's 30-minute DST, America/Caracas on
// 2007-12-09) that boundary lay before the change, inside the previous window: the windows overlapped
// ([14:30, 15:30) then [15:00, 16:00) on Lord Howe's spring-forward day) and the first one after the
// change did not start at a local hour. A window now starts at the change and ends at the next local
// boundary, so windows tile the range. Where the offset moves forward by part of an hour in the middle of
// a window (America/Caracas on 2016-05-01, Asia/Pyongyang on 2018-05-04), that window ends at the change,
// where the next one starts: it used to end a whole local hour after its start, over the next window.
// Where the offset changes a minute past the hour (America/St_Johns and America/Goose_Bay changed at
// 00:01 local until 2011), the window after the change starts at the change, not at the old offset's
// next hour: usage of 04:01–05:00 UTC used to sit in a window starting at 05:00, after its own start.

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z')

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app)
  // A 10-minute bucket of 1 input token every 10 minutes over three hours from each `start`.
  const buckets = (start: string) =>
    Array.from({ length: 18 }, (_, i) => {
      const s = Date.parse(start) + i * 600_000
      return { start_time: iso(s), end_time: iso(s + 600_000), model: 'gpt-4o-mini', num_model_requests: 1, input_tokens: 1, output_tokens: 0 }
    })
  const res = await app.inject({
    method: 'POST', url: '/v1/usage/buckets', headers: bearer(key),
    payload: { buckets: [...buckets('2025-10-04T14:00:00Z'), ...buckets('2026-04-04T13:30:00Z'), ...buckets('2007-12-09T06:00:00Z'),
      ...buckets('2016-05-01T06:00:00Z'), ...buckets('2018-05-04T14:00:00Z'), ...buckets('2006-04-02T03:00:00Z'),
      ...buckets('1988-04-03T03:00:00Z')] },
  })
  t.equal(res.statusCode, 200, res.body)

  const windows = async (from: string, to: string, timeZone: string, over: Partial<UsageArgs> = {}) => {
    const page = await queryUsagePage(app.testDb, {
      tenantId, from: new Date(from), to: new Date(to), window: 'HOUR', timeZone, groupBy: [], groupByLabels: [], filter: {},
      rateCard: 'default', first: 1000, ...over,
    }, { maxGroups: 10_000 })
    return page.rows.map((r) => [iso(r.windowStart.getTime()), iso(r.windowEnd.getTime()), r.inputTokens])
  }

  t.test('Lord Howe spring-forward (+10:30 → +11 at 02:00 local): the 02:30 hour is half an hour', async (t) => {
    const expected = [
      ['2025-10-04T13:30:00Z', '2025-10-04T14:30:00Z', 3],
      ['2025-10-04T14:30:00Z', '2025-10-04T15:30:00Z', 6],
      ['2025-10-04T15:30:00Z', '2025-10-04T16:00:00Z', 3],
      ['2025-10-04T16:00:00Z', '2025-10-04T17:00:00Z', 6],
    ]
    t.same(await windows('2025-10-04T14:00:00Z', '2025-10-04T17:00:00Z', 'Australia/Lord_Howe'), expected)
    t.same(await windows('2025-10-04T14:00:00Z', '2025-10-04T17:00:00Z', 'Australia/Lord_Howe', { groupBy: ['API_KEY'] }), expected, 'from the base table too')
  })

  t.test('Lord Howe fall-back (+11 → +10:30 at 02:00 local): the repeated half hour is its own window', async (t) => {
    t.same(await windows('2026-04-04T13:30:00Z', '2026-04-04T16:30:00Z', 'Australia/Lord_Howe'), [
      ['2026-04-04T13:00:00Z', '2026-04-04T14:00:00Z', 3],
      ['2026-04-04T14:00:00Z', '2026-04-04T15:00:00Z', 6],
      ['2026-04-04T15:00:00Z', '2026-04-04T15:30:00Z', 3],
      ['2026-04-04T15:30:00Z', '2026-04-04T16:30:00Z', 6],
    ])
  })

  t.test('Caracas moved from −04:00 to −04:30 at 03:00 local on 2007-12-09', async (t) => {
    t.same(await windows('2007-12-09T06:00:00Z', '2007-12-09T09:00:00Z', 'America/Caracas'), [
      ['2007-12-09T06:00:00Z', '2007-12-09T07:00:00Z', 6],
      ['2007-12-09T07:00:00Z', '2007-12-09T07:30:00Z', 3],
      ['2007-12-09T07:30:00Z', '2007-12-09T08:30:00Z', 6],
      ['2007-12-09T08:30:00Z', '2007-12-09T09:30:00Z', 3],
    ])
  })

  t.test('Caracas moved from −04:30 to −04:00 at 02:30 local on 2016-05-01: the 02:00 hour ends at the change', async (t) => {
    t.same(await windows('2016-05-01T06:00:00Z', '2016-05-01T09:00:00Z', 'America/Caracas'), [
      ['2016-05-01T05:30:00Z', '2016-05-01T06:30:00Z', 3],
      ['2016-05-01T06:30:00Z', '2016-05-01T07:00:00Z', 3],
      ['2016-05-01T07:00:00Z', '2016-05-01T08:00:00Z', 6],
      ['2016-05-01T08:00:00Z', '2016-05-01T09:00:00Z', 6],
    ])
  })

  t.test('Pyongyang moved from +08:30 to +09:00 at 23:30 local on 2018-05-04: the 23:00 hour ends at the change', async (t) => {
    t.same(await windows('2018-05-04T14:00:00Z', '2018-05-04T17:00:00Z', 'Asia/Pyongyang'), [
      ['2018-05-04T13:30:00Z', '2018-05-04T14:30:00Z', 3],
      ['2018-05-04T14:30:00Z', '2018-05-04T15:00:00Z', 3],
      ['2018-05-04T15:00:00Z', '2018-05-04T16:00:00Z', 6],
      ['2018-05-04T16:00:00Z', '2018-05-04T17:00:00Z', 6],
    ])
  })

  t.test('St John’s moved from −03:30 to −02:30 at 00:01 local on 2006-04-02: the window after it starts at the change', async (t) => {
    t.same(await windows('2006-04-02T03:00:00Z', '2006-04-02T06:00:00Z', 'America/St_Johns'), [
      ['2006-04-02T02:30:00Z', '2006-04-02T03:30:00Z', 3],
      ['2006-04-02T03:30:00Z', '2006-04-02T03:31:00Z', 1],
      ['2006-04-02T03:31:00Z', '2006-04-02T04:30:00Z', 5],
      ['2006-04-02T04:30:00Z', '2006-04-02T05:30:00Z', 6],
      ['2006-04-02T05:30:00Z', '2006-04-02T06:30:00Z', 3],
    ])
  })

  t.test('Goose Bay moved from −04:00 to −02:00 at 00:01 local on 1988-04-03: the hourly rollup does not serve it', async (t) => {
    const expected = [
      ['1988-04-03T03:00:00Z', '1988-04-03T04:00:00Z', 6],
      ['1988-04-03T04:00:00Z', '1988-04-03T04:01:00Z', 1],
      ['1988-04-03T04:01:00Z', '1988-04-03T05:00:00Z', 5],
      ['1988-04-03T05:00:00Z', '1988-04-03T06:00:00Z', 6],
    ]
    t.same(await windows('1988-04-03T03:00:00Z', '1988-04-03T06:00:00Z', 'America/Goose_Bay'), expected)
    t.same(await windows('1988-04-03T03:00:00Z', '1988-04-03T06:00:00Z', 'America/Goose_Bay', { groupBy: ['API_KEY'] }), expected, 'from the base table too')
  })

  t.test('whole-hour changes are unchanged (Europe/Berlin, 2025-03-30)', async (t) => {
    const res = await app.inject({
      method: 'POST', url: '/v1/usage/buckets', headers: bearer(key), payload: { buckets: buckets('2025-03-30T00:00:00Z') },
    })
    t.equal(res.statusCode, 200, res.body)
    t.same(await windows('2025-03-30T00:00:00Z', '2025-03-30T03:00:00Z', 'Europe/Berlin'), [
      ['2025-03-30T00:00:00Z', '2025-03-30T01:00:00Z', 6],
      ['2025-03-30T01:00:00Z', '2025-03-30T02:00:00Z', 6],
      ['2025-03-30T02:00:00Z', '2025-03-30T03:00:00Z', 6],
    ])
  })

  t.test('whole-hour buckets read from the hourly rollup (windows looked up per hour) fall in the base table\'s windows', async (t) => {
    const other = await tenantWithKey(app)
    // 1h buckets on whole UTC hours, as providers report them, around each change above.
    const starts = ['2025-10-04T11:00:00Z', '2026-04-04T11:00:00Z', '2007-12-09T04:00:00Z', '2016-05-01T04:00:00Z', '2018-05-04T11:00:00Z', '2006-04-02T01:00:00Z']
    const hourly = starts.flatMap((start) => Array.from({ length: 7 }, (_, i) => {
      const s = Date.parse(start) + i * 3_600_000
      return { start_time: iso(s), end_time: iso(s + 3_600_000), model: 'gpt-4o-mini', num_model_requests: 1, input_tokens: i + 1, output_tokens: 0 }
    }))
    const res = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(other.key), payload: { buckets: hourly } })
    t.equal(res.statusCode, 200, res.body)
    const cases: [string, string, string][] = [
      ['2025-10-04T11:00:00Z', '2025-10-04T18:00:00Z', 'Australia/Lord_Howe'], ['2026-04-04T11:00:00Z', '2026-04-04T18:00:00Z', 'Australia/Lord_Howe'],
      ['2007-12-09T04:00:00Z', '2007-12-09T11:00:00Z', 'America/Caracas'], ['2016-05-01T04:00:00Z', '2016-05-01T11:00:00Z', 'America/Caracas'],
      ['2018-05-04T11:00:00Z', '2018-05-04T18:00:00Z', 'Asia/Pyongyang'], ['2006-04-02T01:00:00Z', '2006-04-02T08:00:00Z', 'America/St_Johns'],
    ]
    const page = (from: string, to: string, timeZone: string, window: 'HOUR' | 'MINUTE', rollups?: false) => queryUsagePage(app.testDb, {
      tenantId: other.tenantId, from: new Date(from), to: new Date(to), window, timeZone, groupBy: [], groupByLabels: [], filter: {},
      rateCard: 'default', first: 1000, ...(rollups === false ? { rollups } : {}),
    }, { maxGroups: 10_000 })
    const bump = (n: number) => app.testDb.query(sql`update usage_bucket_hourly set input_tokens = input_tokens + ${n}, in_text = in_text + ${n} where tenant_id = ${other.tenantId}`)
    for (const [from, to, zone] of cases) {
      for (const window of ['HOUR', 'MINUTE'] as const) {
        const [viaRollup, viaBase] = [await page(from, to, zone, window), await page(from, to, zone, window, false)]
        t.same(viaRollup.rows, viaBase.rows, `${zone} ${window}s from ${from}: the base table's windows`)
        t.equal(viaRollup.totals.inputTokens, 28, `${zone} ${window}s from ${from}: every bucket counted once`)
        t.ok(viaBase.rows.length >= 7, `${zone} ${window}s from ${from}: a window per bucket at least`)
        await bump(1000)
        t.equal((await page(from, to, zone, window)).totals.inputTokens, 28 + 7 * 1000, `${zone} ${window}s from ${from}: read from the hourly rollup`)
        await bump(-1000)
      }
    }
  })
})
