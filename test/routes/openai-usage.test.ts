import { readFileSync } from 'node:fs'
import { parse } from 'csv-parse/sync'
import { Decimal } from 'decimal.js'
import t from 'tap'
import { deriveTokenClasses, type RawCounters } from '../../src/ingest/token-classes.js'
import { addCost, expectedCost, findRate, zeroCost } from '../factories/expected.js'
import { DAY_S, ensureDefaultCard, inRange, MIRROR_RATES, mirrorDataset, RECORDED, T0, USAGE_TOTALS_QUERY } from '../factories/mirrors.js'
import { CLASS_KEYS, inputOf, outputOf, seedBuckets, seedCard } from '../factories/usage.js'
import { admin, bearer, build, eachEngine, fixturePath, isProblem, tenantWithKey } from '../helpers.js'

interface Result extends Record<string, unknown> {
  input_tokens: number
  output_tokens: number
  num_model_requests: number | null
  model: string | null
  cost: { value: number; value_exact: string; currency: string; complete: boolean; unpriced_tokens: number }
}
interface Page {
  object: string
  data: { object: string; start_time: number; end_time: number; results: Result[] }[]
  has_more: boolean
  next_page: string | null
  sources: string[]
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { tenantId, key } = await tenantWithKey(app, ['read'])
  const other = await tenantWithKey(app, ['ingest', 'read'])
  const seeds = mirrorDataset(11, 70)
  await seedBuckets(app.testDb, tenantId, seeds)
  await seedBuckets(app.testDb, other.tenantId, mirrorDataset(12, 10))
  const card = `card-${tenantId}`
  const ids = await seedCard(app.testDb, card, MIRROR_RATES.map((r) => ({ ...r, recordedAt: RECORDED })), tenantId)
  const rates = MIRROR_RATES.map((r, i) => ({ ...r, id: ids[i]!, recordedAt: RECORDED }))
  await ensureDefaultCard(app.testDb)

  const get = (url: string, headers: Record<string, string> = bearer(key)) => app.inject({ method: 'GET', url, headers })
  const page = async (url: string) => {
    const res = await get(url)
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`)
    return res.json() as Page
  }

  t.test('pages of 1d buckets from a mid-day start cover the range, empty days included, and total like GraphQL', async (t) => {
    const from = T0 + 12 * 3600
    const to = T0 + 10 * DAY_S
    const buckets: Page['data'] = []
    let url = `/v1/organization/usage/completions?start_time=${from}&end_time=${to}&limit=3&rate_card=${card}&group_by=model`
    for (let guard = 0; guard < 20; guard++) {
      const p = await page(url)
      t.ok(p.data.length <= 3, 'at most limit buckets per page')
      buckets.push(...p.data)
      if (!p.has_more) break
      url = `/v1/organization/usage/completions?start_time=${from}&end_time=${to}&limit=3&rate_card=${card}&group_by=model&page=${p.next_page}`
    }
    t.same(buckets.map((b) => b.start_time), [from, ...Array.from({ length: 9 }, (_, i) => T0 + (i + 1) * DAY_S)], 'first bucket starts at start_time, then UTC midnights')
    t.equal(buckets.at(-1)!.end_time, to)
    t.same(buckets[4]!.results, [], '2025-10-05 has no usage and is listed with results: []')
    const inside = seeds.filter((b) => inRange(b, from, to))
    const want = { input: 0, output: 0, requests: 0, cost: zeroCost() }
    for (const b of inside) {
      want.input += inputOf(b)
      want.output += outputOf(b)
      want.requests += b.requests ?? 0
      want.cost = addCost(want.cost, expectedCost(b, findRate(b, rates, new Date())))
    }
    const results = buckets.flatMap((b) => b.results)
    const got = {
      input: results.reduce((a, r) => a + r.input_tokens, 0),
      output: results.reduce((a, r) => a + r.output_tokens, 0),
      requests: results.reduce((a, r) => a + (r.num_model_requests ?? 0), 0),
      cost: results.reduce((a, r) => a.plus(r.cost.value_exact), new Decimal(0)),
      unpriced: results.reduce((a, r) => a + r.cost.unpriced_tokens, 0),
    }
    t.same([got.input, got.output, got.requests, got.unpriced], [want.input, want.output, want.requests, want.cost.unpriced])
    t.ok(got.cost.equals(want.cost.total), `cost ${got.cost.toString()} = ${want.cost.total.toString()}`)
    t.ok(want.cost.unpriced > 0 && results.some((r) => !r.cost.complete), 'unpriced usage is flagged, not $0')
    const gql = await app.inject({
      method: 'POST', url: '/graphql', headers: bearer(key),
      payload: { query: USAGE_TOTALS_QUERY, variables: { from: new Date(from * 1000), to: new Date(to * 1000), card } },
    })
    const totals = gql.json().data.usage.totals
    t.same([totals.inputTokens, totals.outputTokens, totals.requests, totals.cost.unpricedTokens], [got.input, got.output, got.requests, got.unpriced], 'GraphQL totals')
    t.ok(new Decimal(totals.cost.total).equals(got.cost), 'GraphQL cost total')
    t.equal(results[0]!.cost.currency, 'usd')
    t.equal(results[0]!.cost.value, Number(results[0]!.cost.value_exact), 'value is the number of value_exact')
  })

  t.test('results carry the per-modality breakdown, grouped fields filled and others null', async (t) => {
    const p = await page(`/v1/usage?start_time=${T0}&end_time=${T0 + DAY_S}&group_by=model&group_by=batch&rate_card=${card}`)
    const day = seeds.filter((b) => inRange(b, T0, T0 + DAY_S))
    for (const r of p.data[0]!.results) {
      const mine = day.filter((b) => b.model === r.model && (b.batch ?? null) === r.batch)
      const sum = (k: (typeof CLASS_KEYS)[number]) => mine.reduce((a, b) => a + ((b[k] as number | undefined) ?? 0), 0)
      const label = `${r.model}/${String(r.batch)}`
      t.same(
        [r.input_text_tokens, r.input_audio_tokens, r.input_image_tokens, r.input_cached_text_tokens, r.input_cached_audio_tokens, r.input_cache_write_tokens, r.output_text_tokens, r.output_audio_tokens],
        [sum('inText'), sum('inAudio'), sum('inImage'), sum('cachedText'), sum('cachedAudio'), sum('cacheWrite'), sum('outText'), sum('outAudio')],
        label,
      )
      t.equal(r.input_tokens, mine.reduce((a, b) => a + inputOf(b), 0), `${label} input`)
      t.equal(r.input_uncached_tokens, sum('inText') + sum('inAudio') + sum('inImage'))
      t.equal(r.object, 'organization.usage.completions.result')
      t.same([r.project_id, r.user_id, r.api_key_id, r.service_tier], [null, null, null, null])
    }
    t.ok(p.data[0]!.results.length > 1)
  })

  t.test('array parameters: repeated, [], [0] and comma-separated are the same query', async (t) => {
    const base = `/v1/organization/usage/completions?start_time=${T0}&end_time=${T0 + 3 * DAY_S}&rate_card=${card}`
    const forms = [
      '&group_by=model&group_by=project_id&models=gpt-5-mini-2025-08-07&models=mystery-model',
      '&group_by[]=model&group_by[]=project_id&models[]=gpt-5-mini-2025-08-07&models[]=mystery-model',
      '&group_by[0]=model&group_by[1]=project_id&models[0]=gpt-5-mini-2025-08-07&models[1]=mystery-model',
      '&group_by=model,project_id&models=gpt-5-mini-2025-08-07,mystery-model',
    ]
    const pages = await Promise.all(forms.map((f) => page(base + f)))
    const results = pages[0]!.data.flatMap((b) => b.results)
    t.ok(results.length > 2)
    t.same(new Set(results.map((r) => r.model)), new Set(['gpt-5-mini-2025-08-07', 'mystery-model']), 'models filter applied')
    t.ok(results.some((r) => r.project_id !== null), 'grouped by project')
    for (const p of pages.slice(1)) t.same(p.data, pages[0]!.data)
    const keys = await page(`${base}&api_key_ids[]=key_1&user_ids=u1,u2&project_ids[0]=proj_a&group_by=api_key_id,project_id`)
    const flat = keys.data.flatMap((b) => b.results)
    t.ok(flat.length > 0 && flat.every((r) => r.api_key_id === 'key_1' && r.project_id === 'proj_a'))
  })

  t.test('OpenAI defaults and limits per bucket width', async (t) => {
    const now = Math.floor(Date.now() / 1000)
    for (const [width, dflt, max, seconds] of [['1d', 7, 31, 86_400], ['1h', 24, 168, 3600], ['1m', 60, 1440, 60]] as const) {
      const start = now - seconds * (max + 5)
      const p = await page(`/v1/usage?start_time=${start}&bucket_width=${width}`)
      t.equal(p.data.length, dflt, `${width} default ${dflt}`)
      t.ok(p.has_more && p.next_page?.startsWith('page_'))
      t.equal((await page(`/v1/usage?start_time=${start}&bucket_width=${width}&limit=${max}`)).data.length, max, `${width} max ${max}`)
      const over = await get(`/v1/usage?start_time=${start}&bucket_width=${width}&limit=${max + 1}`)
      t.equal(over.statusCode, 400, `${width} limit ${max + 1} refused`)
    }
    // Today's UTC day: `now - 3600` lay in yesterday's bucket during the first hour of every UTC day (a
    // failure of this test between 00:00 and 01:00 UTC). Read just before the request, not as `now`
    // before the nine requests above: midnight falling between them made two buckets. The server reads
    // its clock between `before` and `after`, so the buckets run from today to `before`'s day, or to
    // `after`'s when midnight fell during the request — one bucket on any other run.
    const before = Date.now() / 1000
    const today = Math.floor(before / 86_400) * 86_400
    const noEnd = await page(`/v1/usage?start_time=${today}`)
    const after = Date.now() / 1000
    const through = (s: number) => Array.from({ length: (Math.floor(s / 86_400) * 86_400 - today) / 86_400 + 1 }, (_, i) => today + i * 86_400)
    const starts = noEnd.data.map((b) => b.start_time).join()
    t.ok([through(before), through(after)].some((days) => days.join() === starts), `without end_time the range ends with the bucket that contains now (${starts})`)
    t.notOk(noEnd.has_more)
  })

  t.test('sources selects what is counted; pricing_as_of prices as the card stood then', async (t) => {
    const url = `/v1/usage?start_time=${T0}&end_time=${T0 + 10 * DAY_S}&limit=10&rate_card=${card}`
    const csvOnly = await page(`${url}&sources=openai_csv`)
    t.same(csvOnly.sources, ['openai_csv'])
    const input = (p: Page) => p.data.flatMap((b) => b.results).reduce((a, r) => a + r.input_tokens, 0)
    t.equal(input(csvOnly), seeds.filter((b) => b.source === 'openai_csv').reduce((a, b) => a + inputOf(b), 0))
    const before = await page(`${url}&pricing_as_of=2024-12-31T00:00:00Z`)
    const results = before.data.flatMap((b) => b.results)
    t.ok(results.length > 0 && results.every((r) => r.cost.value_exact === '0' && !r.cost.complete), 'no rate recorded yet: unpriced, not $0')
    t.equal(results.reduce((a, r) => a + r.cost.unpriced_tokens, 0), seeds.reduce((a, b) => a + inputOf(b) + outputOf(b), 0))
  })

  t.test('bad parameters are one 400 problem listing every problem', async (t) => {
    const res = await get('/v1/organization/usage/completions?bucket_width=2d&group_by=color&limit=0&batch=maybe&sources=nope')
    t.equal(res.statusCode, 400)
    t.ok(isProblem(res))
    const paths = (res.json().errors as { path: string }[]).map((e) => e.path).sort()
    for (const p of ['start_time', 'bucket_width', 'group_by', 'limit', 'batch', 'sources'])
      t.ok(paths.some((x) => x.includes(p)), `names ${p}: ${paths.join(', ')}`)
    const cross = await get(`/v1/usage?start_time=${T0}&end_time=${T0}&limit=99&rate_card=nope&page=bogus`)
    t.equal(cross.statusCode, 400)
    t.same((cross.json().errors as { path: string }[]).map((e) => e.path).sort(), ['querystring.end_time', 'querystring.limit', 'querystring.page', 'querystring.rate_card'])
    const foreign = await get(`/v1/usage?start_time=${T0}&page=${(await page(`/v1/usage?start_time=${T0 - DAY_S}&limit=1`)).next_page}`)
    t.equal(foreign.statusCode, 400, 'a cursor of another query is refused')
  })

  t.test('Accept: text/csv streams the export columns, re-ingestable into the same token classes', async (t) => {
    const path = fixturePath(t, 'openai/completions_usage_2025-10-05_2025-10-12.sample.csv')
    if (!path) return
    const fixtureHeader = readFileSync(path, 'utf8').split(/\r?\n/)[0]!.split(',')
    const res = await app.inject({
      method: 'GET',
      url: `/v1/usage?start_time=${T0}&end_time=${T0 + 10 * DAY_S}&group_by=model,project_id,user_id,api_key_id,batch,service_tier&rate_card=${card}`,
      headers: { ...bearer(key), accept: 'text/csv' },
    })
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /^text\/csv/)
    t.equal(res.headers['x-usage-sources'], 'anthropic_api,api,openai_api,openai_csv', 'the counted sources are visible')
    const [header, ...lines] = parse(res.body) as string[][]
    t.same(header!.slice(0, fixtureHeader.length), fixtureHeader, 'the export columns, in order')
    t.same(header!.slice(fixtureHeader.length), ['input_cache_write_tokens', 'input_cache_write_1h_tokens', 'context_tier', 'inference_geo', 'cost_value', 'cost_currency', 'cost_complete', 'unpriced_tokens', 'provider', 'account_id'])
    const col = (row: string[], name: string) => row[header!.indexOf(name)]!
    const empty = lines.filter((l) => col(l, 'input_tokens') === '')
    t.same(empty.map((l) => col(l, 'start_time_iso')), ['2025-10-05T00:00:00+00:00', '2025-10-06T00:00:00+00:00'], 'days without usage are blank rows')
    const totals = Object.fromEntries(CLASS_KEYS.map((k) => [k, 0])) as Record<(typeof CLASS_KEYS)[number], number>
    for (const l of lines.filter((x) => col(x, 'input_tokens') !== '')) {
      const counters: RawCounters = {}
      for (const name of header!) if (/tokens$|requests$/.test(name) && name !== 'unpriced_tokens') (counters as Record<string, number>)[name] = Number(col(l, name))
      const d = deriveTokenClasses(counters)
      if (!t.ok(d.ok, `row ${col(l, 'start_time')} derives`) || !d.ok) continue
      for (const k of CLASS_KEYS) totals[k] += d.value[k]
    }
    for (const k of CLASS_KEYS) t.equal(totals[k], seeds.reduce((a, b) => a + ((b[k] as number | undefined) ?? 0), 0), `${k} round-trips`)
  })

  t.test('401 without a token, 403 without read or for another tenant, and tenants never mix', async (t) => {
    const url = `/v1/usage?start_time=${T0}&end_time=${T0 + 10 * DAY_S}&limit=10`
    t.equal((await get(url, {})).statusCode, 401)
    const ingestOnly = await tenantWithKey(app, ['ingest'])
    t.equal((await get(url, bearer(ingestOnly.key))).statusCode, 403)
    t.equal((await get(url, { ...bearer(key), 'x-tenant-id': other.tenantId })).statusCode, 403)
    t.equal((await get(`/v1/organization/costs?start_time=${T0}`, {})).statusCode, 401)
    const sum = (p: Page) => p.data.flatMap((b) => b.results).reduce((a, r) => a + r.input_tokens, 0)
    const theirs = await get(url, { ...admin, 'x-tenant-id': other.tenantId })
    t.equal(sum(theirs.json() as Page), mirrorDataset(12, 10).filter((b) => inRange(b, T0, T0 + 10 * DAY_S)).reduce((a, b) => a + inputOf(b), 0))
    t.equal(sum(await page(url)), seeds.filter((b) => inRange(b, T0, T0 + 10 * DAY_S)).reduce((a, b) => a + inputOf(b), 0))
    t.equal((await get(`${url}&rate_card=${card}`, bearer(other.key))).statusCode, 400, "another tenant's card is invisible")
  })
})
