import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

/**
 * Reconciliation pages without their snapshot (the cache off here, as after an eviction, its TTL or on
 * another instance; bill-between-pages.test.ts has the snapshot) are computed afresh. Each starts after
 * the previous page's last row (the cursor's key), not at an offset: at an offset, a group that appeared before the cursor between two
 * pages pushed the previous page's last row onto the next one (listed twice), and one that went away made
 * the next page skip a row.
 */

const DAY = 1759276800 // 2025-10-01T00:00:00Z
const HOUR = 3600
const usage = (project: string) => ({ start_time: DAY, end_time: DAY + HOUR, project_id: project, model: 'gpt-4o-mini', input_tokens: 1_000_000, output_tokens: 0, num_model_requests: 1 })
const iso = (s: number) => new Date(s * 1000).toISOString()
const QUERY = `query($after: String, $first: Int) { reconciliation(from: "${iso(DAY)}", to: "${iso(DAY + 24 * HOUR)}", groupBy: [PROJECT],
  first: $first, after: $after) { rows { projectId computed } pageInfo { hasNextPage endCursor } } }`

interface Page { rows: { projectId: string | null; computed: string }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { USAGE_PAGE_CACHE_BYTES: '0' })
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const h = bearer(key)
  const post = async (...projects: string[]) =>
    t.equal((await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: h, payload: { buckets: projects.map(usage) } })).statusCode, 200)
  const page = async (first: number, after: string | null = null): Promise<Page> => {
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: h, payload: { query: QUERY, variables: { first, after } } })
    const body = res.json() as { data: { reconciliation: Page }; errors?: unknown }
    t.equal(body.errors, undefined, JSON.stringify(body.errors))
    return body.data.reconciliation
  }
  const ids = (p: Page) => p.rows.map((r) => r.projectId)

  await post('p2', 'p3', 'p4', 'p5', 'p6', 'p7')
  t.test('every page size lists each row once, as one page does', async (t) => {
    const all = ids(await page(100))
    t.same(all, ['p2', 'p3', 'p4', 'p5', 'p6', 'p7'])
    for (const size of [1, 2, 4]) {
      const got: (string | null)[] = []
      let after: string | null = null
      for (let n = 0; n < 20; n++) {
        const p = await page(size, after)
        got.push(...ids(p))
        if (!p.pageInfo.hasNextPage) break
        after = p.pageInfo.endCursor
      }
      t.same(got, all, `pages of ${size}`)
    }
    const none = await page(0)
    t.same(ids(await page(2, none.pageInfo.endCursor)), ['p2', 'p3'], 'after first: 0, the first rows')
  })

  t.test('a group added or removed before the cursor between pages neither repeats nor skips a row', async (t) => {
    const first = await page(2)
    t.same(ids(first), ['p2', 'p3'])
    await post('p1') // sorts first
    const second = await page(2, first.pageInfo.endCursor)
    t.same(ids(second), ['p4', 'p5'], 'page 2: the rows after p3 (an offset repeated p3)')
    // Two groups before the cursor go (DELETE removes whole hours, so straight from the table; the
    // rollup triggers follow).
    await app.testDb.query(`delete from usage_buckets where project_id in ('p1', 'p2')`)
    const third = await page(2, second.pageInfo.endCursor)
    t.same(ids(third), ['p6', 'p7'], 'page 3: the rows after p5 (an offset skipped p6)')
    t.equal(third.pageInfo.hasNextPage, false)
  })

  t.test('a forged key is refused as any invalid cursor', async (t) => {
    const first = await page(2)
    const decoded = JSON.parse(Buffer.from(first.pageInfo.endCursor!, 'base64url').toString()) as Record<string, unknown>
    for (const k of ['["x"]', '[1.5]', '[0,7]', 'nope', 5]) {
      const res = await app.inject({ method: 'POST', url: '/graphql', headers: h, payload: { query: QUERY, variables: { first: 2, after: Buffer.from(JSON.stringify({ ...decoded, k })).toString('base64url') } } })
      t.match(res.json(), { errors: [{ message: /cursor is not valid/, extensions: { code: 'BAD_USER_INPUT' } }] }, String(k))
    }
  })
})
