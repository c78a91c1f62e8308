import Fastify, { type FastifyInstance } from 'fastify'
import t from 'tap'
import app from '../../src/app.js'
import { firstPage, type BucketRows } from '../../src/usage/report/report.js'
import { bearer, eachEngine, freshDb, recordStatements, tenantWithKey, testConfig } from '../helpers.js'

/**
 * A REST mirror listing whose range fits in the widest page is read by its first page's statement
 * (src/usage/report/report.ts, readAhead): its later pages come from the rows read then. Before, each
 * 7-day page ran the whole priced query again (five statements for 30 days), and a bucket ingested
 * between two pages showed up in the later one: the listing was no single moment of the ledger.
 * Counting the usage statements proves the first; an ingest between pages proves the second.
 */
const DAY0 = 1759276800 // 2025-10-01T00:00:00Z
const DAYS = 30
const RANGE = `start_time=${DAY0}&end_time=${DAY0 + DAYS * 86_400}`

interface Page {
  data: { start_time: number; results: Record<string, unknown>[] }[]
  has_more: boolean
  next_page: string | null
}

/** Every page of a listing, following next_page. */
async function walk(server: FastifyInstance, key: string, url: string, between?: () => Promise<void>): Promise<Page[]> {
  const pages: Page[] = []
  let page: string | null = null
  do {
    const res = await server.inject({ method: 'GET', url: `${url}${page ? `&page=${page}` : ''}`, headers: bearer(key) })
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`)
    const body = res.json() as Page
    pages.push(body)
    page = body.next_page
    if (pages.length === 1 && between) await between()
  } while (page)
  return pages
}

const buckets = (pages: Page[]) => pages.flatMap((p) => p.data)

void eachEngine(t, async (t, engine) => {
  const db = await freshDb(t, engine)
  // Statements inside transactions too (reconciliation reads both sides in one, a REST page streams in one).
  const { db: counting, statements } = recordStatements(db)
  const server = Fastify({ logger: false })
  await server.register(app, { config: testConfig(), db: counting })
  await server.ready()
  t.teardown(() => server.close())
  // The usage statement of a REST page (streamUsage's: it carries the group count on every row).
  const usageReads = () => statements.filter((s) => s.includes('group_count')).length

  const ingest = async (key: string, rows: Record<string, unknown>[]) => {
    const res = await server.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(key), payload: { buckets: rows } })
    t.equal(res.statusCode, 200, res.body)
  }
  const daily = (tokens: number) =>
    Array.from({ length: DAYS }, (_, d) =>
      ['p-a', 'p-b'].map((project, i) => ({
        start_time: DAY0 + d * 86_400 + 3600, end_time: DAY0 + d * 86_400 + 7200, project_id: project, model: 'gpt-4o-mini',
        input_tokens: tokens + d * 10 + i, input_cached_tokens: d, output_tokens: 5 + d,
      })),
    ).flat()
  const a = await tenantWithKey(server, ['ingest', 'read'])
  const b = await tenantWithKey(server, ['ingest', 'read'])
  await ingest(a.key, daily(1000))
  await ingest(b.key, daily(7000))

  const completions = `/v1/organization/usage/completions?${RANGE}&bucket_width=1d&group_by=model&group_by=project_id`
  const costs = `/v1/organization/costs?${RANGE}&group_by=line_item&group_by=project_id`

  for (const url of [completions, costs]) {
    const before = usageReads()
    const pages = await walk(server, a.key, url)
    t.equal(pages.length, 5, `${url.split('?')[0]}: 30 days in pages of 7`)
    t.equal(usageReads() - before, 1, `${url.split('?')[0]}: one usage statement for the whole listing`)
    const whole = await walk(server, a.key, `${url}&limit=31`)
    t.equal(whole.length, 1)
    t.same(buckets(pages), buckets(whole[0] ? whole : []), `${url.split('?')[0]}: the pages are the one 31-day page, bucket by bucket`)
    t.equal(buckets(pages).length, DAYS)
    t.ok(buckets(pages).every((bk) => bk.results.length >= 2), 'every day has both projects')
  }

  // A bucket ingested after the first page is in none of the listing's pages (one moment), and in the next listing.
  const late = { start_time: DAY0 + 20 * 86_400 + 3600, end_time: DAY0 + 20 * 86_400 + 7200, project_id: 'p-late', model: 'gpt-4o-mini', input_tokens: 42 }
  const during = await walk(server, a.key, completions, () => ingest(a.key, [late]))
  const projects = (pages: Page[]) => buckets(pages).flatMap((bk) => bk.results.map((r) => r.project_id))
  t.notOk(projects(during).includes('p-late'), 'the later pages are read as of the first')
  t.ok(projects(await walk(server, a.key, completions)).includes('p-late'), 'a new listing reads it')

  // A cursor of another tenant finds none of its rows: the page is read anew, from this tenant's usage.
  const first = await server.inject({ method: 'GET', url: completions, headers: bearer(a.key) })
  const cursor = (first.json() as Page).next_page!
  const crossed = await server.inject({ method: 'GET', url: `${completions}&page=${cursor}`, headers: bearer(b.key) })
  t.equal(crossed.statusCode, 200, crossed.body)
  const tokens = (crossed.json() as Page).data.flatMap((bk) => bk.results.map((r) => r.input_tokens as number))
  t.ok(tokens.length > 0 && tokens.every((n) => n >= 7000), `tenant b's own usage (${tokens.slice(0, 4).join(', ')}…)`)

  // Without end_time the range ends at the bucket after `now`: a later page read after that boundary holds a
  // bucket the first page's statement never read. It was served from the held rows as empty (review, 2026-12-05).
  const open = (page: string | undefined, now: number) =>
    firstPage(db, {
      tenantId: a.tenantId, query: { start_time: DAY0 + 20 * 86_400, rate_card: 'default', page }, width: 86_400, limits: [7, 31],
      groupBy: ['PROJECT'], filter: { usageTypes: ['completions'] }, classes: false, maxGroups: 100_000,
    }, new Date(now * 1000))
  const drain = async (p: Awaited<ReturnType<typeof open>>) => {
    const out: BucketRows[] = []
    for await (const bk of p.buckets) out.push(bk)
    return out
  }
  const day30 = DAY0 + 30 * 86_400
  const p1 = await open(undefined, day30 - 1)
  t.equal((await drain(p1)).length, 7)
  await ingest(a.key, [{ start_time: day30 + 60, end_time: day30 + 120, project_id: 'p-new-day', model: 'gpt-4o-mini', input_tokens: 9 }])
  const p2 = await drain(await open(p1.nextPage!, day30 + 300))
  t.equal(p2.at(-1)?.start, day30, 'the page now reaches the new day')
  t.ok(p2.at(-1)?.rows.some((row) => row.projectId === 'p-new-day'), "the new day's usage, not an empty bucket")

  // A range wider than the widest page is read page by page, as before.
  const before = usageReads()
  const wide = await walk(server, a.key, `/v1/organization/usage/completions?start_time=${DAY0}&end_time=${DAY0 + 40 * 86_400}&bucket_width=1d&limit=31`)
  t.equal(wide.length, 2)
  t.equal(usageReads() - before, 2, 'a statement per page')
})
