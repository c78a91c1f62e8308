import { sql } from 'drizzle-orm'
import t from 'tap'
import { DAY_S, MIRROR_RATES, RECORDED, T0 } from '../factories/mirrors.js'
import { seedCard } from '../factories/usage.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'
import { pageSnapshots } from '../../src/usage/usage-service.js'

/**
 * A mirror listing's pages, concatenated, are the same range read as one page — whichever way it is read: in
 * pages of the default `limit` (the first page reads ahead, the rest come from its rows), in pages of a
 * different `limit` each time, and page by page with read-ahead off (a statement per page). The read-ahead
 * test (openai-mirror-read-ahead) covers 1d pages on midnights; here the ranges start and end off the grid
 * (the first bucket starts mid-hour or mid-minute, the last ends early), at 1h and 1m, over buckets that
 * start off the hour and to the millisecond, across a price change off the hour, and for events, resources
 * with attribute filters, storage and costs' line items.
 */

interface Bucket { start_time: number; end_time: number; results: Record<string, unknown>[] }
const H = 3600
const WIDEST = { '1m': 1440, '1h': 168, '1d': 31 } as const

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { tenantId, key } = await tenantWithKey(app, ['read', 'ingest'])
  const card = `card-${tenantId}`
  await seedCard(app.testDb, card, [
    ...MIRROR_RATES.map((r) => ({ ...r, recordedAt: RECORDED })),
    { model: 'gpt-5-mini*', effectiveFrom: new Date((T0 + 11 * DAY_S + 10 * H + 17 * 60) * 1000), recordedAt: RECORDED, prices: { input: '0.5', cached_input: '0.05', output: '3' } },
  ], tenantId)
  t.teardown(() => {
    pageSnapshots.limits = { maxBytes: 64 * 1024 * 1024, ttlMs: 5 * 60_000 }
  })
  // Token buckets every 37 minutes over 14 days (on and off the hour; every 7th starts at .250 s).
  await app.testDb.query(sql`insert into usage_buckets (tenant_id, provider, start_time, end_time, project_id, model, api_key_id,
      service_tier, num_model_requests, input_tokens, output_tokens, in_text, cached_text, out_text, source, usage_type)
    select ${tenantId}, 'openai', to_timestamp(${T0}::int8 + i * 2220 + (case when i % 7 = 0 then 0.25 else 0 end)), to_timestamp(${T0}::int8 + i * 2220 + 60),
      (array['p1','p2','p3',null])[1 + i % 4], (array['gpt-5-mini-2025-08-07','gpt-4o-audio-preview-2025-06-03','mystery-model'])[1 + i % 3],
      (array['k1','k2'])[1 + i % 2], case when i % 5 = 0 then 'flex' else 'default' end, 1 + i % 3,
      100 + i, 7 + i % 11, 90 + i, 10, 7 + i % 11, 'api', 'completions'
    from generate_series(0, ${Math.floor((14 * DAY_S) / 2220)}::int) i`)
  const post = async (url: string, payload: object) => {
    const res = await app.inject({ method: 'POST', url, headers: bearer(key), payload })
    t.equal(res.statusCode, 200, res.body.slice(0, 300))
  }
  // Events at odd instants (to the millisecond) over days 9–11.
  await post('/v1/usage/events', {
    events: Array.from({ length: 800 }, (_, i) => ({
      id: `e${i}`, timestamp: new Date((T0 + 9 * DAY_S) * 1000 + i * 311_777).toISOString(), model: i % 2 ? 'gpt-4o-mini' : 'gpt-5-mini-2025-08-07',
      project_id: `p${i % 3}`, input_tokens: 100 + i, output_tokens: 20,
    })),
  })
  // Images every 5 hours with sizes and sources; hourly storage over days 10–13.
  const sizes = ['1024x1024', '256x256', '512x512']
  const sources = ['image.generation', 'image.edit', 'image.variation']
  const resources: object[] = Array.from({ length: (14 * 24) / 5 }, (_, i) => ({
    start_time: T0 + i * 5 * H + (i % 3) * 1200, end_time: T0 + i * 5 * H + (i % 3) * 1200 + 600, provider: 'openai', account_id: 'a', project_id: `p${i % 2}`,
    model: i % 4 ? 'dall-e-2' : 'dall-e-3', resource: 'images', quantity: 1 + (i % 5), attributes: { size: sizes[i % 3], source: sources[i % 2] },
  }))
  for (let h = 0; h < 4 * 24; h++)
    resources.push({ start_time: T0 + 10 * DAY_S + h * H, end_time: T0 + 10 * DAY_S + (h + 1) * H, provider: 'openai', account_id: 'a', project_id: `p${h % 2}`, resource: 'storage_bytes', quantity: 1000 * (h + 1) + 7 })
  await post('/v1/usage/buckets', { resources })

  /** Whether the last walk's first next_page named rows read ahead (cursor field `n`). */
  let readAhead = false
  async function walk(url: string, limit?: (page: number) => number): Promise<Bucket[]> {
    const out: Bucket[] = []
    let page: string | null = null
    for (let i = 0; ; i++) {
      const res = await app.inject({ method: 'GET', url: `${url}&rate_card=${card}${limit ? `&limit=${limit(i)}` : ''}${page ? `&page=${page}` : ''}`, headers: bearer(key) })
      if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`)
      const body = res.json() as { data: Bucket[]; has_more: boolean; next_page: string | null }
      t.equal(body.has_more, body.next_page !== null)
      out.push(...body.data)
      if (i === 0) readAhead = body.next_page !== null && 'n' in JSON.parse(Buffer.from(body.next_page.slice('page_'.length), 'base64url').toString())
      if (!(page = body.next_page)) return out
    }
  }

  const cases: [string, string, keyof typeof WIDEST][] = [
    ['completions, off-hour edges, across the price change', `completions?start_time=${T0 + 10 * DAY_S + 10 * H + 1800}&end_time=${T0 + 13 * DAY_S + 17 * 60}&group_by=model,project_id`, '1h'],
    ['completions, mid-minute edges', `completions?start_time=${T0 + 12 * DAY_S + 9 * H + 30}&end_time=${T0 + 12 * DAY_S + 14 * H + 7}&group_by=model`, '1m'],
    ['completions by API key (base table), mid-day edges', `completions?start_time=${T0 + 5 * H + 1800}&end_time=${T0 + 13 * DAY_S + 7 * H + 13}&group_by=api_key_id,service_tier`, '1d'],
    ['events', `completions?sources=events&start_time=${T0 + 9 * DAY_S + 10 * H + 1800}&end_time=${T0 + 11 * DAY_S + 17 * 60}&group_by=model`, '1h'],
    ['images by size with a source filter', `images?start_time=${T0 + 2 * DAY_S + 1800}&end_time=${T0 + 8 * DAY_S}&group_by=size,project_id&sources=image.edit`, '1h'],
    ['vector stores', `vector_stores?start_time=${T0 + 10 * DAY_S + 1800}&end_time=${T0 + 13 * DAY_S + 900}&group_by=project_id`, '1h'],
  ]
  const costs = `/v1/organization/costs?start_time=${T0 + 5 * H}&end_time=${T0 + 13 * DAY_S + 3 * H}&group_by=line_item,project_id`
  for (const [what, url, width] of [...cases.map(([w, u, width]) => [w, `/v1/organization/usage/${u}&bucket_width=${width}`, width] as const), ['costs by line item and project', costs, '1d'] as const]) {
    const widest = url.includes('/costs?') ? 180 : WIDEST[width]
    const one = await walk(url, () => widest)
    const starts = one.map((b) => b.start_time)
    t.ok(starts.length > 1 && starts.every((s, i) => i === 0 || s === one[i - 1]!.end_time), `${what}: one page of ${starts.length} consecutive buckets`)
    t.ok(one.some((b) => b.results.length > 0), `${what}: with usage`)
    t.same(await walk(url), one, `${what}: pages of the default limit (read ahead) = one page`)
    t.ok(readAhead, `${what}: the later pages came from the first page's rows`)
    t.same(await walk(url, (i) => 1 + ((i * 5) % 9)), one, `${what}: pages of changing limits = one page`)
    pageSnapshots.limits = { maxBytes: 0, ttlMs: 60_000 }
    t.same(await walk(url), one, `${what}: page by page, read-ahead off = one page`)
    t.notOk(readAhead, `${what}: each page its own statement`)
    pageSnapshots.limits = { maxBytes: 64 * 1024 * 1024, ttlMs: 5 * 60_000 }
  }
})
