import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'
import { seedBuckets, seedCard } from '../factories/usage.js'
import { RATES } from '../factories/dataset.js'
import { pageSnapshots } from '../../src/usage/usage-service.js'

// Usage pages recomputed after a cursor's key (a snapshot miss), and the pages that follow them.

const QUERY = `query($from: DateTime!, $to: DateTime!, $window: Window, $tz: String, $groupBy: [UsageDimension!], $first: Int, $after: String, $card: String) {
  usage(from: $from, to: $to, window: $window, timeZone: $tz, groupBy: $groupBy, first: $first, after: $after, rateCard: $card) {
    rows { windowStart model }
    pageInfo { hasNextPage endCursor }
  }
}`

interface Usage { rows: { windowStart: string; model: string }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } }
type Answer = { data?: { usage: Usage }; errors?: { message: string }[] }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { tenantId, key } = await tenantWithKey(app, ['read'])
  const card = `card-${tenantId}`
  await seedCard(app.testDb, card, RATES.map((r) => ({ ...r, recordedAt: new Date('2025-01-01T00:00:00Z') })))
  t.teardown(() => pageSnapshots.clear())
  const gql = async (variables: Record<string, unknown>): Promise<Answer> => {
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query: QUERY, variables: { card, window: 'DAY', groupBy: ['MODEL'], ...variables } } })
    return res.json() as Answer
  }

  t.test('a page recomputed after a group before it went away, then pages from its snapshot: no row skipped', async (t) => {
    const day = new Date('2025-10-01T00:00:00Z')
    const range = { from: '2025-10-01T00:00:00Z', to: '2025-10-02T00:00:00Z' }
    await seedBuckets(app.testDb, tenantId, ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'].map((model) =>
      ({ start: day, end: new Date(day.getTime() + 3_600_000), model, inText: 10, outText: 1 })))
    pageSnapshots.clear()
    const p1 = (await gql({ ...range, first: 2 })).data!.usage
    t.same(p1.rows.map((r) => r.model), ['m1', 'm2'])
    pageSnapshots.clear()
    await app.testDb.query(`delete from usage_buckets where tenant_id = $1 and model = 'm1'`, [tenantId])
    // A miss: recomputed after m2's key; it keeps a snapshot of m5, m6 for the next page.
    const p2 = (await gql({ ...range, first: 2, after: p1.pageInfo.endCursor })).data!.usage
    t.same(p2.rows.map((r) => r.model), ['m3', 'm4'])
    t.equal(p2.pageInfo.hasNextPage, true)
    const p3 = (await gql({ ...range, first: 2, after: p2.pageInfo.endCursor })).data!.usage
    t.same(p3.rows.map((r) => r.model), ['m5', 'm6'], 'page 3 (a snapshot hit): the rows after m4')
  })

  t.test('a window that starts before 1970-01-01T00:00Z (its local day) pages on a miss', async (t) => {
    // Instants start at the epoch, but a local day, hour or month can start before it: Asia/Kolkata's
    // 1970-01-01 starts at 1969-12-31T18:30Z. The cursor's key held that window start.
    const day = new Date(0)
    await seedBuckets(app.testDb, tenantId, ['e1', 'e2', 'e3'].map((model) =>
      ({ start: day, end: new Date(3_600_000), model, inText: 10, outText: 1 })))
    for (const tz of ['Asia/Kolkata', 'America/New_York']) {
      const range = { from: '1970-01-01T00:00:00Z', to: '1970-01-02T00:00:00Z', tz }
      const all = (await gql({ ...range, first: 100 })).data!.usage
      t.equal(all.rows.length, 3, tz)
      pageSnapshots.clear()
      const p1 = (await gql({ ...range, first: 1 })).data!.usage
      pageSnapshots.clear()
      const p2 = await gql({ ...range, first: 1, after: p1.pageInfo.endCursor })
      t.equal(p2.errors, undefined, `${tz}: ${JSON.stringify(p2.errors)}`)
      t.same(p2.data?.usage.rows, all.rows.slice(1, 2), tz)
    }
  })
})
