import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'
import { seedBuckets, seedCard } from '../factories/usage.js'
import { dataset, RATES } from '../factories/dataset.js'
import { estimatedJsonLength, SnapshotCache } from '../../src/usage/page-snapshots.js'
import { pageSnapshots } from '../../src/usage/usage-service.js'

// Paged usage reads as one snapshot (docs/performance.md "Paging"): later pages come from the first
// statement's snapshot when it is held, and are recomputed identically when it is not.

const QUERY = `query($from: DateTime!, $to: DateTime!, $window: Window, $groupBy: [UsageDimension!], $first: Int, $after: String, $card: String) {
  usage(from: $from, to: $to, window: $window, groupBy: $groupBy, first: $first, after: $after, rateCard: $card) {
    rows { windowStart windowEnd model projectId serviceTier requests inputTokens outputTokens
      cost { total input cachedInput cacheWrite output complete unpricedTokens unpricedQuantity { resource quantity } } }
    totals { requests inputTokens outputTokens cost { total complete unpricedTokens } }
    pageInfo { hasNextPage endCursor }
  }
}`

interface Usage {
  rows: Record<string, unknown>[]
  totals: unknown
  pageInfo: { hasNextPage: boolean; endCursor: string | null }
}
type Answer = { data?: { usage: Usage }; errors?: { message: string; extensions?: { code?: string } }[] }

const base = { from: '2025-10-15T00:00:00Z', to: '2025-11-14T00:00:00Z', window: 'DAY', groupBy: ['MODEL', 'PROJECT'] }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { tenantId, key } = await tenantWithKey(app, ['read'])
  const other = await tenantWithKey(app, ['read'])
  await seedBuckets(app.testDb, tenantId, dataset(11, 200))
  await seedBuckets(app.testDb, other.tenantId, dataset(12, 200))
  const card = `card-${tenantId}`
  await seedCard(app.testDb, card, RATES.map((r) => ({ ...r, recordedAt: new Date('2025-01-01T00:00:00Z') })))
  t.teardown(() => {
    pageSnapshots.limits = { maxBytes: 64 * 1024 * 1024, ttlMs: 5 * 60_000 }
    pageSnapshots.clear()
  })

  const gql = async (variables: Record<string, unknown>, k = key): Promise<Answer> => {
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(k), payload: { query: QUERY, variables: { card, ...base, ...variables } } })
    return res.json() as Answer
  }
  /** Every page of `first` rows; `between` runs before each later page (to clear the cache). */
  const allPages = async (first: number, between = () => {}) => {
    const rows: Record<string, unknown>[] = []
    const totals: unknown[] = []
    let after: string | null = null
    for (let guard = 0; guard < 1000; guard++) {
      const res: Answer = await gql({ first, after })
      if (res.errors) throw new Error(JSON.stringify(res.errors))
      const u = res.data!.usage
      rows.push(...u.rows)
      totals.push(u.totals)
      if (!u.pageInfo.hasNextPage) return { rows, totals }
      after = u.pageInfo.endCursor
      between()
    }
    throw new Error('pagination did not end')
  }

  const whole = (await gql({ first: 1000 })).data!.usage
  t.ok(whole.rows.length > 20, `enough groups to page (${whole.rows.length})`)
  t.equal(whole.pageInfo.hasNextPage, false)

  t.test('concatenated pages equal one unpaged read; totals identical on every page (snapshot hits)', async (t) => {
    pageSnapshots.clear()
    const paged = await allPages(7)
    t.same(paged.rows, whole.rows)
    for (const totals of paged.totals) t.same(totals, whole.totals)
    t.ok(pageSnapshots.size > 0, 'the first page kept a snapshot')
  })

  t.test('first: 0 answers the totals and a cursor to the first row (it was null beside hasNextPage)', async (t) => {
    for (const [what, between] of [['snapshot', () => {}], ['miss', () => pageSnapshots.clear()]] as const) {
      pageSnapshots.clear()
      const none = (await gql({ first: 0 })).data!.usage
      t.same(none.rows, [], what)
      t.same(none.totals, whole.totals, what)
      t.ok(none.pageInfo.hasNextPage, what)
      t.type(none.pageInfo.endCursor, 'string', what)
      between()
      const next = (await gql({ first: 5, after: none.pageInfo.endCursor })).data!.usage
      t.same(next.rows, whole.rows.slice(0, 5), `${what}: the cursor leads to the first rows`)
    }
  })

  t.test('the miss path (cache cleared before every page) gives the identical rows and totals', async (t) => {
    const paged = await allPages(7, () => pageSnapshots.clear())
    t.same(paged.rows, whole.rows)
    for (const totals of paged.totals) t.same(totals, whole.totals)
  })

  t.test('the miss path reads after the last row’s key: nulls, booleans and every page size', async (t) => {
    // Project and batch hold nulls (sorted last) and batch is a boolean: page boundaries fall on them.
    for (const groupBy of [['PROJECT', 'MODEL'], ['BATCH', 'SERVICE_TIER'], ['PROJECT', 'BATCH']]) {
      const all = (await gql({ first: 1000, groupBy })).data!.usage
      for (const first of [1, 3]) {
        const rows: Record<string, unknown>[] = []
        let after: string | null = null
        for (let n = 0; n < 1000; n++) {
          pageSnapshots.clear()
          const res: Answer = await gql({ first, after, groupBy })
          t.equal(res.errors, undefined)
          rows.push(...res.data!.usage.rows)
          t.same(res.data!.usage.totals, all.totals)
          if (!res.data!.usage.pageInfo.hasNextPage) break
          after = res.data!.usage.pageInfo.endCursor
        }
        t.same(rows, all.rows, `${groupBy.join(', ')}, pages of ${first}`)
      }
    }
  })

  t.test('with the cache disabled, pages are recomputed and identical', async (t) => {
    pageSnapshots.limits = { maxBytes: 0, ttlMs: 60_000 }
    pageSnapshots.clear()
    const paged = await allPages(5)
    t.same(paged.rows, whole.rows)
    t.equal(pageSnapshots.size, 0, 'nothing kept')
    pageSnapshots.limits = { maxBytes: 64 * 1024 * 1024, ttlMs: 5 * 60_000 }
  })

  t.test('a paged read is one snapshot: later pages do not see rows written after the first', async (t) => {
    pageSnapshots.clear()
    const first = (await gql({ first: 5 })).data!.usage
    await seedBuckets(app.testDb, tenantId, dataset(13, 20))
    const second = (await gql({ first: 5, after: first.pageInfo.endCursor })).data!.usage
    t.same(second.totals, first.totals, 'page 2 carries page 1’s totals')
    t.same(second.rows, whole.rows.slice(5, 10))
  })

  t.test('a snapshot keeps only the rows that fit one entry’s share of the cache; the read stays exact', async (t) => {
    // Room for a few rows after the page: the statement cuts its rows at the byte budget, later pages
    // recompute and start new snapshots.
    const current = (await gql({ first: 1000 })).data!.usage // an earlier test added rows
    pageSnapshots.limits = { maxBytes: 4 * (256 + 1200), ttlMs: 60_000 }
    pageSnapshots.clear()
    const first = (await gql({ first: 2 })).data!.usage
    t.ok(pageSnapshots.size > 256, 'some rows were kept')
    t.ok(pageSnapshots.size <= pageSnapshots.limits.maxBytes / 4, `size ${pageSnapshots.size} within a quarter of the cache`)
    t.same(first.rows, current.rows.slice(0, 2))
    pageSnapshots.clear()
    const paged = await allPages(2)
    t.same(paged.rows, current.rows)
    for (const totals of paged.totals) t.same(totals, current.totals)
    pageSnapshots.limits = { maxBytes: 64 * 1024 * 1024, ttlMs: 5 * 60_000 }
  })

  t.test('a cursor of another query or another tenant is refused', async (t) => {
    pageSnapshots.clear()
    const first = (await gql({ first: 5 })).data!.usage
    const cursor = first.pageInfo.endCursor
    const otherQuery = await gql({ first: 5, after: cursor, groupBy: ['MODEL'] })
    t.match(otherQuery.errors?.[0], { message: /cursor is not valid/, extensions: { code: 'BAD_USER_INPUT' } })
    const otherTenant = await gql({ first: 5, after: cursor, card: 'default' }, other.key)
    t.match(otherTenant.errors?.[0], { message: /cursor is not valid/, extensions: { code: 'BAD_USER_INPUT' } })
    const decoded = JSON.parse(Buffer.from(cursor!, 'base64url').toString()) as Record<string, unknown>
    const forged = Buffer.from(JSON.stringify({ ...decoded, s: '../../etc' })).toString('base64url')
    t.match((await gql({ first: 5, after: forged })).errors?.[0], { message: /cursor is not valid/ })
  })

  // Near the end: it changes this tenant's buckets.
  t.test('groups added or removed before the cursor neither repeat nor skip a row on a miss', async (t) => {
    // A page that is not in the cache is recomputed. At an offset, a group added before the cursor's
    // position pushed page 1's last row onto page 2 (listed twice — a client summing pages counted it
    // twice), and one removed made page 2 skip a row; after the last row's key neither happens.
    const current = (await gql({ first: 1000 })).data!.usage // earlier tests added rows
    const firstDay = new Date(base.from)
    pageSnapshots.clear()
    const first = (await gql({ first: 5 })).data!.usage
    t.same(first.rows, current.rows.slice(0, 5))
    pageSnapshots.clear()
    await seedBuckets(app.testDb, tenantId, [{ start: firstDay, end: new Date(firstDay.getTime() + 3_600_000), model: 'aaa-sorts-first', projectId: 'proj_new', inText: 5, outText: 1 }])
    const second = (await gql({ first: 5, after: first.pageInfo.endCursor })).data!.usage
    t.same(second.rows, current.rows.slice(5, 10), 'page 2 after an added group: the rows after page 1, once')
    pageSnapshots.clear()
    // The added group and page 1's first group go: one group fewer before the cursor than page 2 saw.
    const gone = first.rows[0]!
    await app.testDb.query(`delete from usage_buckets where tenant_id = $1 and (model = 'aaa-sorts-first' or (model = $2
      and project_id is not distinct from $3 and start_time >= $4::timestamptz and start_time < $4::timestamptz + interval '1 day'))`,
    [tenantId, gone.model, gone.projectId, gone.windowStart])
    const third = (await gql({ first: 5, after: second.pageInfo.endCursor })).data!.usage
    t.same(third.rows, current.rows.slice(10, 15), 'page 3 after a group before it was removed: no row skipped')
  })

  t.test('a forged cursor key is refused, never a 500', async (t) => {
    pageSnapshots.clear()
    const first = (await gql({ first: 5 })).data!.usage
    const decoded = JSON.parse(Buffer.from(first.pageInfo.endCursor!, 'base64url').toString()) as Record<string, unknown>
    for (const k of ['[1.5,"m","p"]', '[-9007199254740991,"m","p"]', '["x","m","p"]', '[0,"m"]', '[0,"a\\u0000b","p"]', '[0,7,"p"]', '[0,"m",false]', 'not json', '{"a":1}', 5]) {
      const forged = Buffer.from(JSON.stringify({ ...decoded, s: undefined, k })).toString('base64url')
      t.match((await gql({ first: 5, after: forged })).errors?.[0], { message: /cursor is not valid/, extensions: { code: 'BAD_USER_INPUT' } }, String(k))
    }
    // A well-typed key of rows that do not exist is a valid position: the rows after it.
    const k = JSON.stringify([Date.parse(base.from), 'gpt-4o', 'proj_b'])
    const res = await gql({ first: 5, after: Buffer.from(JSON.stringify({ ...decoded, s: undefined, k })).toString('base64url') })
    t.equal(res.errors, undefined)
  })

  // Last: it deletes this tenant's buckets.
  t.test('page 1’s statement serves every page that fits the cache: later pages survive deleting the data', async (t) => {
    const current = (await gql({ first: 1000 })).data!.usage // earlier tests added rows
    pageSnapshots.clear()
    const first = Math.max(1, Math.floor(current.rows.length / 13))
    const rows: Record<string, unknown>[] = []
    let page = (await gql({ first })).data!.usage
    rows.push(...page.rows)
    await app.testDb.query('delete from usage_buckets where tenant_id = $1', [tenantId])
    t.equal((await gql({ first: 1000 })).data!.usage.rows.length, 0, 'a new read sees no buckets')
    let pages = 1
    while (page.pageInfo.hasNextPage) {
      const res: Answer = await gql({ first, after: page.pageInfo.endCursor })
      t.equal(res.errors, undefined)
      page = res.data!.usage
      t.same(page.totals, current.totals, `page ${++pages} carries page 1’s totals`)
      rows.push(...page.rows)
    }
    t.ok(pages > 11, `${pages} pages, more than page 1 and ten after it`)
    t.same(rows, current.rows, 'every page came from the first statement')
  })
})

t.test('the snapshot cache: bounded in bytes, expires, bound to tenant and query', async (t) => {
  let now = 0
  const cache = new SnapshotCache<{ v: string }, null>({ maxBytes: 10_000, ttlMs: 1_000 }, () => now)
  const snap = (tenantId: string, n: number) => ({ tenantId, hash: 'h', start: 0, rows: Array.from({ length: n }, () => ({ v: 'x'.repeat(40) })), extra: null })
  const ids = Array.from({ length: 20 }, () => cache.put(snap('a', 10)))
  t.ok(ids.every((id) => typeof id === 'string'))
  t.ok(cache.size <= 10_000, `size ${cache.size} within the bound`)
  t.equal(cache.get(ids[0]!, 'a', 'h'), undefined, 'the oldest was evicted')
  t.ok(cache.get(ids[19]!, 'a', 'h'), 'the newest is held')
  t.equal(cache.get(ids[19]!, 'b', 'h'), undefined, 'another tenant does not find it')
  t.equal(cache.get(ids[19]!, 'a', 'other'), undefined, 'another query does not find it')
  t.equal(cache.put(snap('a', 100)), undefined, 'a snapshot over a quarter of the cache is not kept')
  now = 1_000
  t.equal(cache.get(ids[19]!, 'a', 'h'), undefined, 'expired')
  cache.put(snap('a', 1))
  t.ok(cache.size < 1_000, 'expired entries are swept')
})

t.test('a snapshot without a measured size is sized from a sample of its rows', async (t) => {
  const exact = (rows: unknown[]) => JSON.stringify(rows).length
  const few = Array.from({ length: 60 }, (_, i) => ({ v: 'x'.repeat(i) }))
  t.equal(estimatedJsonLength(few), exact(few), 'up to the sample size, every row is measured')
  const same = Array.from({ length: 5_000 }, () => ({ model: 'gpt-5', tokens: 123_456, cost: '0.25' }))
  t.equal(estimatedJsonLength(same), exact(same), 'rows of one shape: exact')
  // Rows of one result vary by their dimension values, often periodically (a few models in every window):
  // the estimate stays within a few per cent, whatever the period (evenly spaced picks aliased with it).
  for (const period of [2, 3, 5, 7, 27, 135, 1_000])
    for (const length of [65, 1_200, 4_321, 10_000]) {
      const varied = Array.from({ length }, (_, i) => ({ project: `proj_${i}`, model: i % period ? 'gpt-5-mini-2025-08-07' : 'o3', tokens: i * 997 }))
      const ratio = estimatedJsonLength(varied) / exact(varied)
      if (ratio < 0.95 || ratio > 1.05) t.fail(`${length} rows, period ${period}: estimate / exact = ${ratio.toFixed(4)}`)
    }
  t.pass('periodic rows of 65 to 10,000: every estimate within 5 %')
  t.equal(estimatedJsonLength([]), 2, 'no rows')
  // The bound holds on the estimate: rows four times the entry budget are not kept.
  const cache = new SnapshotCache<unknown, null>({ maxBytes: 100_000, ttlMs: 1_000 })
  t.equal(cache.put({ tenantId: 'a', hash: 'h', start: 0, rows: Array.from({ length: 1_000 }, () => ({ v: 'y'.repeat(100) })), extra: null }), undefined, 'an estimated 100 kB is over a quarter of 100 kB')
  t.ok(cache.put({ tenantId: 'a', hash: 'h', start: 0, rows: Array.from({ length: 100 }, () => ({ v: 'y'.repeat(100) })), extra: null }), 'an estimated 11 kB is kept')
})
