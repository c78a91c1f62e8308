import { readFileSync } from 'node:fs'
import { parse } from 'csv-parse/sync'
import { Decimal } from 'decimal.js'
import t from 'tap'
import { addCost, expectedCost, findRate, zeroCost } from '../factories/expected.js'
import {
  DAY_S,
  ensureDefaultCard,
  expectedLineItems,
  inRange,
  MIRROR_RATES,
  mirrorDataset,
  RECORDED,
  T0,
  USAGE_TOTALS_QUERY,
} from '../factories/mirrors.js'
import { seedBuckets, seedCard, type SeedBucket } from '../factories/usage.js'
import { admin, bearer, build, eachEngine, fixturePath, isProblem, tenantWithKey } from '../helpers.js'

interface CostResult {
  object: string
  amount: { value: number | null; value_exact: string | null; currency: string }
  line_item: string | null
  project_id: string | null
  api_key_id: string | null
  quantity: number
  quantity_unit: string
  complete: boolean
  unpriced_tokens: number
}
interface Page {
  data: { start_time: number; end_time: number; results: CostResult[] }[]
  has_more: boolean
  next_page: string | null
  sources: string[]
}

const END = T0 + 10 * DAY_S

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { tenantId, key } = await tenantWithKey(app, ['read'])
  const other = await tenantWithKey(app, ['read'])
  const seeds = mirrorDataset(21, 60)
  await seedBuckets(app.testDb, tenantId, seeds)
  await seedBuckets(app.testDb, other.tenantId, mirrorDataset(22, 8))
  const card = `card-${tenantId}`
  const ids = await seedCard(app.testDb, card, MIRROR_RATES.map((r) => ({ ...r, recordedAt: RECORDED })), tenantId)
  const rates = MIRROR_RATES.map((r, i) => ({ ...r, id: ids[i]!, recordedAt: RECORDED }))
  await ensureDefaultCard(app.testDb)

  const get = (url: string, headers: Record<string, string> = bearer(key)) => app.inject({ method: 'GET', url, headers })
  const page = async (url: string, headers?: Record<string, string>) => {
    const res = await get(url, headers)
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`)
    return res.json() as Page
  }
  const costOf = (bs: SeedBucket[]) => bs.reduce((a, b) => addCost(a, expectedCost(b, findRate(b, rates, new Date()))), zeroCost())

  t.test('line items per day equal an independent per-class computation, unpriced usage included', async (t) => {
    const p = await page(`/v1/organization/costs?start_time=${T0}&end_time=${END}&limit=10&group_by=line_item&rate_card=${card}`)
    t.equal(p.data.length, 10)
    const names = new Set<string>()
    for (const bucket of p.data) {
      const want = expectedLineItems(seeds.filter((b) => inRange(b, bucket.start_time, bucket.end_time)), rates)
      const got = new Map(bucket.results.map((r) => [r.line_item!, r]))
      t.same([...got.keys()].sort(), [...want.keys()].sort(), `line items of ${bucket.start_time}`)
      for (const [name, e] of want) {
        const r = got.get(name)
        if (!r) continue
        names.add(name)
        t.equal(r.quantity, e.quantity, `${name} quantity`)
        t.equal(r.quantity_unit, 'tokens')
        if (e.amount === null) {
          t.same([r.amount.value, r.amount.value_exact, r.complete, r.unpriced_tokens], [null, null, false, e.quantity], `${name} is unpriced`)
        } else {
          t.ok(new Decimal(r.amount.value_exact!).equals(e.amount), `${name} ${r.amount.value_exact} = ${e.amount.toString()}`)
          t.equal(r.amount.value, Number(r.amount.value_exact))
          t.equal(r.complete, true)
        }
      }
    }
    for (const n of ['unknown model, unpriced', 'mystery-model, unpriced', 'gpt-5-mini-2025-08-07, cache write', 'gpt-5-mini-2025-08-07, input, batch', 'gpt-5-mini-2025-08-07, output, flex', 'gpt-4o-audio-preview-2025-06-03, input audio', 'gpt-4o-audio-preview-2025-06-03, output audio'])
      t.ok([...names].some((x) => x === n || x.startsWith(`${n},`)), `saw "${n}"`)
    t.same(p.data[4]!.results, [], 'a day without usage is an empty bucket')
  })

  t.test('amounts across pages equal the GraphQL usage total and the independent one', async (t) => {
    const from = T0 + 6 * 3600
    let url = `/v1/costs?start_time=${from}&end_time=${END}&limit=4&rate_card=${card}`
    const results: CostResult[] = []
    let pages = 0
    for (; pages < 10; pages++) {
      const p = await page(url)
      results.push(...p.data.flatMap((b) => b.results))
      t.ok(p.data.every((b) => b.results.length <= 1), 'one result per bucket without group_by')
      if (!p.has_more) break
      url = `/v1/costs?start_time=${from}&end_time=${END}&limit=4&rate_card=${card}&page=${p.next_page}`
    }
    t.equal(pages + 1, 3, '10 days in pages of 4')
    const sum = results.reduce((a, r) => a.plus(r.amount.value_exact!), new Decimal(0))
    const want = costOf(seeds.filter((b) => inRange(b, from, END)))
    t.ok(sum.equals(want.total), `${sum.toString()} = ${want.total.toString()}`)
    t.equal(results.reduce((a, r) => a + r.unpriced_tokens, 0), want.unpriced)
    const gql = await app.inject({
      method: 'POST', url: '/graphql', headers: bearer(key),
      payload: { query: USAGE_TOTALS_QUERY, variables: { from: new Date(from * 1000), to: new Date(END * 1000), card } },
    })
    t.ok(new Decimal(gql.json().data.usage.totals.cost.total).equals(sum), 'GraphQL agrees')
  })

  t.test('group_by project_id and api_key_id, filtered by project_ids in every array form', async (t) => {
    for (const q of ['project_ids=proj_a', 'project_ids[]=proj_a', 'project_ids[0]=proj_a']) {
      const p = await page(`/v1/organization/costs?start_time=${T0}&end_time=${END}&limit=10&group_by=project_id,api_key_id&${q}&rate_card=${card}`)
      const results = p.data.flatMap((b) => b.results)
      t.ok(results.every((r) => r.project_id === 'proj_a' && r.api_key_id !== null && r.line_item === null), q)
      for (const k of ['key_1', 'key_2']) {
        const got = results.filter((r) => r.api_key_id === k).reduce((a, r) => a.plus(r.amount.value_exact!), new Decimal(0))
        const want = costOf(seeds.filter((b) => b.projectId === 'proj_a' && b.apiKeyId === k))
        t.ok(got.equals(want.total), `${q} ${k}: ${got.toString()} = ${want.total.toString()}`)
      }
    }
  })

  t.test('OpenAI defaults and limits: 1d only, 7 buckets by default, at most 180', async (t) => {
    const start = Math.floor(Date.now() / 1000) - 200 * DAY_S
    t.equal((await page(`/v1/organization/costs?start_time=${start}`)).data.length, 7)
    t.equal((await page(`/v1/organization/costs?start_time=${start}&limit=180`)).data.length, 180)
    const bad = await get(`/v1/organization/costs?start_time=${start}&limit=181&bucket_width=1h&group_by=model`)
    t.equal(bad.statusCode, 400)
    t.ok(isProblem(bad))
    t.same((bad.json().errors as { path: string }[]).map((e) => e.path.replace(/\.\d+$/, '')).sort(), ['querystring.bucket_width', 'querystring.group_by'])
    const over = await get(`/v1/organization/costs?start_time=${start}&limit=181`)
    t.same((over.json().errors as { path: string }[]).map((e) => e.path), ['querystring.limit'])
  })

  t.test('Accept: text/csv streams the cost export columns', async (t) => {
    const path = fixturePath(t, 'openai/openai_costs_export_2025-10.sample.csv')
    if (!path) return
    const fixtureHeader = readFileSync(path, 'utf8').split(/\r?\n/)[0]!.split(',')
    const res = await get(`/v1/organization/costs?start_time=${T0}&end_time=${END}&group_by=line_item&rate_card=${card}`, { ...bearer(key), accept: 'text/csv' })
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /^text\/csv/)
    const [header, ...rows] = parse(res.body) as string[][]
    t.same(header!.slice(0, fixtureHeader.length), fixtureHeader, 'the export columns, in order')
    const col = (row: string[], name: string) => row[header!.indexOf(name)]!
    t.ok(rows.every((r) => col(r, 'organization_id') === tenantId && col(r, 'amount_currency') !== 'USD'))
    // Ten days of a 7-day default page: CSV streams the whole range, not one page.
    t.same([...new Set(rows.map((r) => col(r, 'start_time')))].length, 10)
    const priced = rows.filter((r) => col(r, 'amount_value') !== '')
    const sum = priced.reduce((a, r) => a.plus(col(r, 'amount_value')), new Decimal(0))
    t.ok(sum.equals(costOf(seeds.filter((b) => inRange(b, T0, END))).total), 'amounts add up to the exact total')
    t.ok(rows.some((r) => col(r, 'line_item').endsWith(' unpriced') && col(r, 'amount_value') === ''), 'unpriced rows have no amount')
  })

  t.test('401 without a token, 403 without read, and each tenant sees only its own costs', async (t) => {
    const url = `/v1/organization/costs?start_time=${T0}&end_time=${END}&limit=10`
    t.equal((await get(url, {})).statusCode, 401)
    const ingestOnly = await tenantWithKey(app, ['ingest'])
    t.equal((await get(url, bearer(ingestOnly.key))).statusCode, 403)
    t.equal((await get(url, { ...bearer(key), 'x-tenant-id': other.tenantId })).statusCode, 403)
    const tokens = (p: Page) => p.data.flatMap((b) => b.results).reduce((a, r) => a + r.quantity, 0)
    const all = (bs: SeedBucket[]) => bs.reduce((a, b) => a + [b.inText, b.inAudio, b.inImage, b.cachedText, b.cachedAudio, b.cachedImage, b.cacheWrite, b.outText, b.outAudio, b.outImage].reduce<number>((x, v) => x + (v ?? 0), 0), 0)
    t.equal(tokens(await page(url, { ...admin, 'x-tenant-id': other.tenantId })), all(mirrorDataset(22, 8)))
    t.equal(tokens(await page(url)), all(seeds))
  })
})
