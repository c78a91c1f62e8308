import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// Pages of `events` were offsets into one result. Events kept arriving between pages, so newest first an
// event received after page 1 pushed page 1's last row onto page 2 (listed twice) and changed the totals.
// Pages now list the events received by the first page's instant, each after the last row of the one
// before (src/usage/events-cursor.ts).

const PAGE = `query($after: String) {
  events(from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z", first: 2, after: $after) {
    rows { id } totals { requests inputTokens } pageInfo { hasNextPage endCursor } } }`

interface Page {
  rows: { id: string }[]
  totals: { requests: number; inputTokens: number }
  pageInfo: { hasNextPage: boolean; endCursor: string | null }
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BUDGET_EVALUATION_INTERVAL_MS: 'off' })
  const { key } = await tenantWithKey(app)
  const post = async (...ids: [string, string][]) => {
    const res = await app.inject({
      method: 'POST', url: '/v1/usage/events', headers: bearer(key),
      payload: { events: ids.map(([id, timestamp]) => ({ id, timestamp, model: 'gpt-4o-mini', input_tokens: 10, output_tokens: 1 })) },
    })
    t.equal(res.statusCode, 200, res.body)
  }
  const page = async (after: string | null): Promise<Page> => {
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query: PAGE, variables: { after } } })
    const body = res.json() as { data: { events: Page }; errors?: unknown }
    t.equal(body.errors, undefined)
    return body.data.events
  }

  t.test('events received while a client pages newest first are neither repeated nor counted', async (t) => {
    await post(['e1', '2026-01-10T10:00:00Z'], ['e2', '2026-01-10T11:00:00Z'], ['e3', '2026-01-10T12:00:00Z'], ['e4', '2026-01-10T13:00:00Z'])
    const first = await page(null)
    t.same(first.rows.map((r) => r.id), ['e4', 'e3'])
    // A newer and an older event arrive before the next page is asked for.
    await post(['e5', '2026-01-10T14:00:00Z'], ['e0', '2026-01-10T09:00:00Z'])
    const second = await page(first.pageInfo.endCursor)
    t.same(second.rows.map((r) => r.id), ['e2', 'e1'], 'the rest of the first page’s result, once')
    t.same(second.totals, first.totals, 'totals of the same result')
    t.equal(second.pageInfo.hasNextPage, false)
    const fresh = await page(null)
    t.same(fresh.rows.map((r) => r.id), ['e5', 'e4'], 'a new first page sees them')
    t.equal(fresh.totals.requests, 6)
  })

  t.test('an event whose write began before page 1 and committed after it is not listed twice', async (t) => {
    // received_at is the writing transaction's start: a write in flight while page 1 ran commits with a
    // received_at before page 1's instant. Made here by moving an event's received_at back by an hour
    // after page 1, which leaves the database as such a write would (a later, newest event that the
    // asOf filter admits).
    await app.testDb.query(`delete from usage_events`)
    await post(['f1', '2026-01-11T10:00:00Z'], ['f2', '2026-01-11T11:00:00Z'], ['f3', '2026-01-11T12:00:00Z'], ['f4', '2026-01-11T13:00:00Z'])
    const first = await page(null)
    t.same(first.rows.map((r) => r.id), ['f4', 'f3'])
    await post(['late', '2026-01-11T14:00:00Z'])
    await app.testDb.query(`update usage_events set received_at = received_at - interval '1 hour' where id = 'late'`)
    const second = await page(first.pageInfo.endCursor)
    t.same(second.rows.map((r) => r.id), ['f2', 'f1'], 'page 2 starts after page 1’s last row (an offset repeated f3)')
    t.equal(second.pageInfo.hasNextPage, false)
    t.equal(second.totals.requests, 5, 'the totals count what was received by page 1’s instant, the late event included')
  })

  t.test('every order pages through ties (same time, same cost) once each, as one page lists them', async (t) => {
    await app.testDb.query(`delete from usage_events`)
    // 23 events on 4 instants, 3 costs, and an unpriced model: ties on time and on cost, broken by id.
    const events = Array.from({ length: 23 }, (_, i) => ({
      id: `t${String((i * 7) % 23).padStart(2, '0')}`,
      timestamp: `2026-01-12T0${i % 4}:00:00.${i % 2 ? '000123' : '000124'}Z`,
      model: i % 6 === 5 ? 'no-price-model' : 'gpt-4o-mini',
      input_tokens: 100 * (i % 3),
      output_tokens: 1,
    }))
    const res = await app.inject({ method: 'POST', url: '/v1/usage/events', headers: bearer(key), payload: { events } })
    t.equal(res.statusCode, 200, res.body)
    const LIST = `query($after: String, $order: EventOrder, $first: Int) {
      events(from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z", orderBy: $order, first: $first, after: $after) {
        rows { id } pageInfo { hasNextPage endCursor } } }`
    const list = async (order: string, first: number, after: string | null) => {
      const r = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query: LIST, variables: { order, first, after } } })
      const body = r.json() as { data: { events: Page }; errors?: unknown }
      t.equal(body.errors, undefined, JSON.stringify(body.errors))
      return body.data.events
    }
    for (const order of ['TIME_DESC', 'TIME_ASC', 'COST_DESC']) {
      const whole = (await list(order, 100, null)).rows.map((r) => r.id)
      t.equal(whole.length, 23)
      for (const size of [1, 2, 5]) {
        const ids: string[] = []
        let after: string | null = null
        for (let n = 0; n < 30; n++) {
          const p = await list(order, size, after)
          ids.push(...p.rows.map((r) => r.id))
          if (!p.pageInfo.hasNextPage) break
          after = p.pageInfo.endCursor
        }
        t.same(ids, whole, `${order}, pages of ${size}`)
      }
      // first: 0 answers a cursor to the first row; the page after it starts there.
      const none = await list(order, 0, null)
      t.equal(none.pageInfo.hasNextPage, true)
      t.same((await list(order, 3, none.pageInfo.endCursor)).rows.map((r) => r.id), whole.slice(0, 3), `${order}: after first: 0`)
    }
  })

  t.test('a forged cursor key is a 400 naming after, never a 500', async (t) => {
    const forged = (o: Record<string, unknown>) => Buffer.from(JSON.stringify(o)).toString('base64url')
    const first = await page(null)
    const { h, a } = JSON.parse(Buffer.from(first.pageInfo.endCursor!, 'base64url').toString('utf8')) as { h: string; a: number }
    for (const k of [
      ['2026-02-30T00:00:00.000000Z', 'x'],
      ['2026-01-10T24:00:00.000000Z', 'x'],
      ['2026-01-10T10:00:00Z', 'x'],
      ['2026-01-10T10:00:00.000000Z', 'a\u0000b'],
      ['2026-01-10T10:00:00.000000Z', ''],
      ['2026-01-10T10:00:00.000000Z', 7],
      [false, '1', '2026-01-10T10:00:00.000000Z', 'x'],
      ['2026-01-10T10:00:00.000000Z'],
    ].map((k) => JSON.stringify(k)).concat('not json', '{"a":1}')) {
      const res = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query: PAGE, variables: { after: forged({ h, a, k }) } } })
      const body = res.json() as { errors?: { message: string; extensions: { code: string } }[] }
      t.equal(body.errors?.[0]?.extensions.code, 'BAD_USER_INPUT', k)
      t.match(body.errors?.[0]?.message, /after/, k)
    }
  })
})
