import { sql } from 'drizzle-orm'
import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// events(period: TODAY) is the local day as usage's DAY window holds it. In America/Havana the clock
// falls back from 01:00 to 00:00 on 2025-11-02: PostgreSQL starts that day at the second 00:00
// (05:00Z), while the first 00:00–01:00 (04:00Z–05:00Z) is that day's too (usage's DAY window and a day
// budget count it there). TODAY's range began at the second midnight, so an event at 00:30 of the first
// hour was listed as 1 November's and missing from 2 November's.

const LIST = `query($after: String, $first: Int) { events(period: TODAY, timeZone: "America/Havana", orderBy: TIME_ASC, first: $first, after: $after) {
  rows { id } totals { requests } pageInfo { endCursor } } }`
const USAGE = `{ usage(from: "2025-11-01T04:00:00Z", to: "2025-11-03T05:00:00Z", window: DAY, timeZone: "America/Havana", filter: { sources: ["events"] }) {
  rows { windowStart requests } } }`

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app)
  const event = (id: string, timestamp: string) => ({ id, timestamp, model: 'gpt-4o-mini', input_tokens: 1, output_tokens: 1 })
  // Today's events give today's first page a cursor. Two, an hour apart: one is in the page's day even when
  // Havana's midnight falls between this stamp and the page (an event stamped now alone was then
  // yesterday's, the page had no cursor and the test failed).
  const stamp = Date.now()
  const today = [event('now', new Date(stamp).toISOString()), event('in-an-hour', new Date(stamp + 3_600_000).toISOString())]
  const posted = await app.inject({
    method: 'POST', url: '/v1/usage/events', headers: bearer(key),
    payload: { events: [event('nov-1', '2025-11-01T12:00:00Z'), event('first-hour', '2025-11-02T04:30:00Z'), event('nov-2', '2025-11-02T12:00:00Z'), ...today] },
  })
  t.equal(posted.statusCode, 200, posted.body)
  await app.testDb.query(sql`update usage_events set received_at = '2025-11-01T00:00:00Z'::timestamptz`)
  const gql = async (query: string, variables: Record<string, unknown> = {}) => {
    const res = (await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query, variables } })).json()
    t.equal(res.errors, undefined, JSON.stringify(res.errors))
    return res.data
  }
  // The listing as begun at `instant`: the first page's cursor (today's events give it one) with its instant
  // moved, as events-period-cursor.test.ts does.
  const start = (await gql(LIST, { first: 0 })).events.pageInfo.endCursor as string
  const at = (instant: string) =>
    Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(start, 'base64url').toString()), a: Date.parse(instant) })).toString('base64url')
  const ids = async (instant: string) => ((await gql(LIST, { first: 10, after: at(instant) })).events.rows as { id: string }[]).map((r) => r.id)

  const days = (await gql(USAGE)).usage.rows as { windowStart: string; requests: number }[]
  t.same(days.map((d) => d.requests), [1, 2], 'usage: 1 November holds one event, 2 November two (its first hour included)')
  t.same(await ids('2025-11-01T18:00:00Z'), ['nov-1'], 'TODAY on 1 November')
  t.same(await ids('2025-11-02T18:00:00Z'), ['first-hour', 'nov-2'], 'TODAY on 2 November, as usage\'s DAY window')
})
