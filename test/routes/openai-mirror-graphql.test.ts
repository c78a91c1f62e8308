// A REST mirror page is one statement over its buckets (src/usage/stream-usage.ts): it must equal
// GraphQL `usage` of the same shape row for row — including a day with more groups than one GraphQL
// page holds, and across pages followed by next_page — keep the windows × groups bound, and refuse a
// forged `page`.
import { Decimal } from 'decimal.js'
import { sql } from 'drizzle-orm'
import t from 'tap'
import { DAY_S, MIRROR_RATES, RECORDED, T0 } from '../factories/mirrors.js'
import { seedCard } from '../factories/usage.js'
import { bearer, build, eachEngine, isProblem, tenantWithKey } from '../helpers.js'

interface Result {
  project_id: string | null
  model: string | null
  input_tokens: number
  output_tokens: number
  input_cached_tokens: number
  num_model_requests: number | null
  cost: { value_exact: string; complete: boolean; unpriced_tokens: number }
}
interface Page<R = Result> {
  data: { start_time: number; end_time: number; results: R[] }[]
  has_more: boolean
  next_page: string | null
  sources: string[]
}
interface GqlRow {
  windowStart: string
  projectId: string | null
  model: string | null
  requests: number | null
  inputTokens: number
  outputTokens: number
  cachedInputTokens: number
  cost: { total: string; complete: boolean; unpricedTokens: number }
}

/** Groups per day: 1,200 on day 0 (more than a GraphQL page of 1,000), 400 on day 1, none on day 2, 10 on day 3. */
const GROUPS = [1200, 400, 0, 10]
const MODELS = ['gpt-5-mini-2025-08-07', 'gpt-4o-audio-preview-2025-06-03', 'mystery-model']
const END = T0 + GROUPS.length * DAY_S

const QUERY = `query($from: DateTime!, $to: DateTime!, $card: String, $groupBy: [UsageDimension!], $after: String) {
  usage(from: $from, to: $to, window: DAY, rateCard: $card, groupBy: $groupBy, first: 1000, after: $after) {
    rows { windowStart projectId model requests inputTokens outputTokens cachedInputTokens cost { total complete unpricedTokens } }
    pageInfo { hasNextPage endCursor } } }`

void eachEngine(t, async (t, engine) => {
  // Day 0 and day 1 together (1,600 groups) are over the bound; each alone is under it.
  const app = await build(t, engine, { MAX_RESULT_CELLS: '1500' })
  const { tenantId, key } = await tenantWithKey(app, ['read'])
  const card = `card-${tenantId}`
  await seedCard(app.testDb, card, MIRROR_RATES.map((r) => ({ ...r, recordedAt: RECORDED })), tenantId)
  for (const [day, n] of GROUPS.entries()) {
    if (!n) continue
    // Group i: project p<i>, a model by i, two hourly buckets (so sums are sums), counters from i.
    await app.testDb.query(sql`insert into usage_buckets (tenant_id, provider, start_time, end_time, project_id, model,
        service_tier, num_model_requests, input_tokens, output_tokens, in_text, cached_text, out_text, source, usage_type)
      select ${tenantId}, 'openai', to_timestamp(${T0 + day * DAY_S}::int8 + h * 3600), to_timestamp(${T0 + day * DAY_S}::int8 + h * 3600 + 3600),
        'p' || lpad(i::text, 4, '0'), (${sql.param(MODELS)}::text[])[1 + i % 3], 'default', 1 + i % 5,
        100 + i + h, 7 * i + h, 90 + i + h - (i % 10), i % 10, 7 * i + h, 'api', 'completions'
      from generate_series(0, ${n - 1}::int) i, generate_series(${day}::int, ${day + 1}::int) h`)
  }

  const get = (url: string) => app.inject({ method: 'GET', url, headers: bearer(key) })
  const page = async <R = Result>(url: string) => {
    const res = await get(url)
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`)
    return res.json() as Page<R>
  }
  const graphql = async (from: number, to: number, groupBy: string[]) => {
    const rows: GqlRow[] = []
    let after: string | null = null
    let pages = 0
    for (;;) {
      const res = await app.inject({
        method: 'POST', url: '/graphql', headers: bearer(key),
        payload: { query: QUERY, variables: { from: new Date(from * 1000), to: new Date(to * 1000), card, groupBy, after } },
      })
      const body = res.json() as { errors?: unknown; data: { usage: { rows: GqlRow[]; pageInfo: { hasNextPage: boolean; endCursor: string } } } }
      if (body.errors) throw new Error(JSON.stringify(body.errors))
      rows.push(...body.data.usage.rows)
      pages++
      if (!body.data.usage.pageInfo.hasNextPage) return { rows, pages }
      after = body.data.usage.pageInfo.endCursor
    }
  }
  const base = `start_time=${T0}&end_time=${END}&rate_card=${card}`

  t.test('completions by project and model, one bucket a page via next_page: each page equals GraphQL row for row', async (t) => {
    let url = `/v1/organization/usage/completions?${base}&group_by=project_id,model&limit=1`
    const seen: number[] = []
    for (let guard = 0; guard < 10; guard++) {
      const p = await page(url)
      t.equal(p.data.length, 1)
      const b = p.data[0]!
      seen.push(b.results.length)
      const g = await graphql(b.start_time, b.end_time, ['PROJECT', 'MODEL'])
      if (b.results.length > 1000) t.ok(g.pages > 1, 'GraphQL needed more than one page for this bucket')
      t.same(
        b.results.map((r) => [b.start_time, r.project_id, r.model, r.num_model_requests, r.input_tokens, r.output_tokens, r.input_cached_tokens, r.cost.value_exact, r.cost.complete, r.cost.unpriced_tokens]),
        g.rows.map((r) => [Date.parse(r.windowStart) / 1000, r.projectId, r.model, r.requests, r.inputTokens, r.outputTokens, r.cachedInputTokens, r.cost.total, r.cost.complete, r.cost.unpricedTokens]),
        `bucket ${b.start_time}: the same rows in the same order`,
      )
      if (!p.has_more) break
      url = `/v1/organization/usage/completions?${base}&group_by=project_id,model&limit=1&page=${p.next_page}`
    }
    t.same(seen, GROUPS, 'every bucket read once, the empty one included')
  })

  t.test('costs by project: each day equals GraphQL cost per project', async (t) => {
    const p = await page<{ project_id: string | null; amount: { value_exact: string | null } }>(
      `/v1/organization/costs?${base}&group_by=project_id&limit=1&page=${(await page(`/v1/organization/costs?${base}&group_by=project_id&limit=1`)).next_page}`,
    )
    const b = p.data[0]!
    t.equal(b.start_time, T0 + DAY_S, 'the second page is day 1')
    const g = await graphql(b.start_time, b.end_time, ['PROJECT'])
    t.equal(b.results.length, 400)
    t.same(
      b.results.map((r) => [r.project_id, r.amount.value_exact]),
      g.rows.map((r) => [r.projectId, new Decimal(r.cost.total).toFixed()]),
    )
  })

  t.test('a page over the windows × groups bound is a 400 on group_by, before anything is sent', async (t) => {
    const res = await get(`/v1/organization/usage/completions?${base}&group_by=project_id,model&limit=2`)
    t.equal(res.statusCode, 400)
    t.ok(isProblem(res))
    t.match(res.json(), { errors: [{ path: 'querystring.group_by', message: /1600 rows \(windows × groups\), more than the limit of 1500/ }] })
  })

  t.test('the CSV export of the same range reads it in chunks under the bound: every row', async (t) => {
    const csv = await app.inject({ method: 'GET', url: `/v1/organization/usage/completions?${base}&group_by=project_id`, headers: { ...bearer(key), accept: 'text/csv' } })
    t.equal(csv.statusCode, 200, csv.body.slice(0, 300))
    const [header, ...lines] = csv.body.trimEnd().split('\n')
    const [start, project] = ['start_time', 'project_id'].map((c) => header!.split(',').indexOf(c))
    const perDay = new Map<number, number>()
    for (const cells of lines.map((l) => l.split(','))) if (cells[project!]) perDay.set(Number(cells[start!]), (perDay.get(Number(cells[start!])) ?? 0) + 1)
    t.same([...perDay], GROUPS.flatMap((n, day) => (n ? [[T0 + day * DAY_S, n]] : [])), 'each day’s projects, the 1,200 of day 0 included')
  })

  t.test('a forged page is a 400 on page', async (t) => {
    const first = await page(`/v1/organization/usage/completions?${base}&group_by=model&limit=1`)
    const cursor = JSON.parse(Buffer.from(first.next_page!.slice('page_'.length), 'base64url').toString()) as Record<string, unknown>
    const forge = (fields: Record<string, unknown>) => `page_${Buffer.from(JSON.stringify({ ...cursor, ...fields })).toString('base64url')}`
    const forged = {
      'not a cursor': 'garbage',
      'another query’s cursor': (await page(`/v1/organization/usage/completions?${base}&group_by=project_id&limit=1`)).next_page!,
      'before start_time': forge({ s: T0 - DAY_S }),
      'at end_time': forge({ s: END }),
      // Never a next_page: answered from a listing's held rows its first bucket was empty, read anew it was not.
      'off the bucket grid': forge({ s: T0 + DAY_S + 3600 }),
      'not an instant': forge({ s: 1e300 }),
      'a negative start': forge({ s: -1 }),
      'a pricing instant a Date cannot hold': forge({ a: 9e15 }),
    }
    for (const [what, p] of Object.entries(forged)) {
      const res = await get(`/v1/organization/usage/completions?${base}&group_by=model&limit=1&page=${encodeURIComponent(p)}`)
      t.equal(res.statusCode, 400, what)
      t.match(res.json(), { errors: [{ path: 'querystring.page' }] }, what)
    }
    // The real cursor still works: the second day.
    const second = await page(`/v1/organization/usage/completions?${base}&group_by=model&limit=1&page=${first.next_page}`)
    t.equal(second.data[0]!.start_time, T0 + DAY_S)
  })

  t.test('without end_time, a page past the range’s end (the bucket after now) is a 400 on page, as with end_time', async (t) => {
    const open = `start_time=${T0}&bucket_width=1d&rate_card=${card}&limit=1`
    const nextDay = Math.floor(Date.now() / 1000 / DAY_S) * DAY_S + DAY_S
    for (const path of ['usage/completions', 'costs']) {
      const first = await page(`/v1/organization/${path}?${open}`)
      const cursor = JSON.parse(Buffer.from(first.next_page!.slice('page_'.length), 'base64url').toString()) as Record<string, unknown>
      // At the range's end (the bucket after today's) is that bucket: an instance whose clock is ahead may hand it out.
      const atEnd = await get(`/v1/organization/${path}?${open}&page=${encodeURIComponent(`page_${Buffer.from(JSON.stringify({ ...cursor, s: nextDay })).toString('base64url')}`)}`)
      t.equal(atEnd.statusCode, 200, `${path} at the range's end`)
      t.same((atEnd.json() as Page).data.map((b) => b.start_time), [nextDay], `${path} at the range's end: that bucket`)
      for (const s of [nextDay + DAY_S, nextDay + 365 * DAY_S]) {
        const forged = `page_${Buffer.from(JSON.stringify({ ...cursor, s })).toString('base64url')}`
        const res = await get(`/v1/organization/${path}?${open}&page=${encodeURIComponent(forged)}`)
        t.equal(res.statusCode, 400, `${path} at ${s}`)
        t.match(res.json(), { errors: [{ path: 'querystring.page' }] }, `${path} at ${s}`)
      }
      // A real cursor of the same query still works.
      t.equal((await get(`/v1/organization/${path}?${open}&page=${first.next_page}`)).statusCode, 200, path)
    }
  })
})
