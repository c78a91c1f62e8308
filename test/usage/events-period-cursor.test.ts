import { sql } from 'drizzle-orm'
import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// events(period: TODAY | MONTH) is the period around the first page's instant, which the cursor
// carries (every page lists the events received by then). The period was taken around the database's
// now() on every page, so a listing read across midnight listed the next day's events on its later
// pages (and their totals), after the previous day's. A cursor made at noon yesterday stands for a
// listing begun then.

const DAY_MS = 86_400_000
const LIST = `query($after: String, $first: Int, $period: Period) { events(period: $period, orderBy: TIME_ASC, first: $first, after: $after) {
  rows { id } totals { requests } pageInfo { hasNextPage endCursor } } }`

interface Page { rows: { id: string }[]; totals: { requests: number }; pageInfo: { hasNextPage: boolean; endCursor: string | null } }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app)
  const today = Math.floor(Date.now() / DAY_MS) * DAY_MS
  const yesterdayNoon = new Date(today - DAY_MS / 2)
  // 'tomorrow' is the first event of the first page's day when midnight falls between reading `today` and
  // that page (it is the server's clock that says which day the page is of): the page is never empty.
  const event = (id: string, at: number) => ({ id, timestamp: new Date(at).toISOString(), model: 'gpt-4o-mini', input_tokens: 1, output_tokens: 1 })
  const posted = await app.inject({
    method: 'POST', url: '/v1/usage/events', headers: bearer(key),
    payload: { events: [event('yesterday-1', today - DAY_MS + 3_600_000), event('yesterday-2', today - DAY_MS + 7_200_000), event('today', today + 1000), event('tomorrow', today + DAY_MS + 1000)] },
  })
  t.equal(posted.statusCode, 200, posted.body)
  // Received before yesterday noon, as a listing begun then would have seen them.
  await app.testDb.query(sql`update usage_events set received_at = ${new Date(today - 2 * DAY_MS).toISOString()}::timestamptz`)
  const gql = async (variables: Record<string, unknown>): Promise<Page> => {
    const res = (await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query: LIST, variables } })).json() as { data: { events: Page }; errors?: unknown }
    t.equal(res.errors, undefined, JSON.stringify(res.errors))
    return res.data.events
  }
  /** The cursor the first page would have had at `at`: the same query, the instant moved. */
  const decoded = (cursor: string) => JSON.parse(Buffer.from(cursor, 'base64url').toString()) as { a: number }
  const at = (cursor: string, instant: Date) => Buffer.from(JSON.stringify({ ...decoded(cursor), a: instant.getTime() })).toString('base64url')

  t.test('later pages of TODAY stay on the first page\'s day', async (t) => {
    const first = await gql({ period: 'TODAY', first: 1 })
    const day = Math.floor(decoded(first.pageInfo.endCursor!).a / DAY_MS) * DAY_MS
    t.same(first.rows.map((r) => r.id), [day === today ? 'today' : 'tomorrow'], "the first page lists its instant's day")
    const begunYesterday = at(first.pageInfo.endCursor!, yesterdayNoon)
    const next = await gql({ period: 'TODAY', first: 1, after: begunYesterday })
    t.same(next.rows.map((r) => r.id), [], 'no event of yesterday sorts after today\'s')
    t.equal(next.totals.requests, 2, 'the totals are yesterday\'s')
  })

  t.test('a listing begun yesterday pages through yesterday', async (t) => {
    const start = await gql({ period: 'TODAY', first: 0 })
    const ids: string[] = []
    let after: string | null = at(start.pageInfo.endCursor!, yesterdayNoon)
    for (let n = 0; n < 5 && after; n++) {
      const page = await gql({ period: 'TODAY', first: 1, after })
      ids.push(...page.rows.map((r) => r.id))
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null
    }
    t.same(ids, ['yesterday-1', 'yesterday-2'])
  })
})
