import { Decimal } from 'decimal.js'
import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'
import { addCost, expectedCost, findRate, localDate, zeroCost, type ExpectedCost } from '../factories/expected.js'
import { inputOf, outputOf, seedBuckets, seedCard } from '../factories/usage.js'
import { dataset, RATES } from '../factories/dataset.js'

const QUERY = `query($from: DateTime!, $to: DateTime!, $window: Window, $tz: String, $groupBy: [UsageDimension!], $filter: UsageFilter, $first: Int, $after: String, $card: String) {
  usage(from: $from, to: $to, window: $window, timeZone: $tz, groupBy: $groupBy, filter: $filter, first: $first, after: $after, rateCard: $card) {
    rows { windowStart windowEnd model serviceTier modality batch requests inputTokens outputTokens cachedInputTokens uncachedInputTokens cacheWriteTokens
      cost { total input cachedInput cacheWrite output currency complete unpricedTokens } }
    totals { requests inputTokens outputTokens cost { total complete unpricedTokens } }
    pageInfo { hasNextPage endCursor }
    sources
  }
}`

interface Row {
  windowStart: string
  windowEnd: string
  model: string | null
  serviceTier: string | null
  modality: string | null
  requests: number | null
  inputTokens: number
  outputTokens: number
  cost: { total: string; input: string; cachedInput: string; cacheWrite: string; output: string; complete: boolean; unpricedTokens: number }
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { tenantId, key } = await tenantWithKey(app, ['read'])
  const other = await tenantWithKey(app, ['read'])
  const rows = dataset(7, 240)
  await seedBuckets(app.testDb, tenantId, rows)
  await seedBuckets(app.testDb, other.tenantId, dataset(8, 30))
  const rateIds = await seedCard(app.testDb, `card-${tenantId}`, RATES.map((r) => ({ ...r, recordedAt: new Date('2025-01-01T00:00:00Z') })))
  const rates = RATES.map((r, i) => ({ ...r, id: rateIds[i]!, recordedAt: new Date('2025-01-01T00:00:00Z') }))
  const card = `card-${tenantId}`

  const gql = async (variables: Record<string, unknown>, k = key) => {
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(k), payload: { query: QUERY, variables: { card, ...variables } } })
    return res.json() as { data?: { usage: { rows: Row[]; totals: { requests: number; inputTokens: number; cost: { total: string; unpricedTokens: number } }; pageInfo: { hasNextPage: boolean; endCursor: string | null }; sources: string[] } }; errors?: { message: string; extensions?: { code?: string } }[] }
  }
  const allPages = async (variables: Record<string, unknown>, first: number) => {
    const out: Row[] = []
    let after: string | null = null
    for (let guard = 0; guard < 1000; guard++) {
      const res = await gql({ ...variables, first, after })
      if (res.errors) throw new Error(JSON.stringify(res.errors))
      out.push(...res.data!.usage.rows)
      if (!res.data!.usage.pageInfo.hasNextPage) return { rows: out, last: res.data!.usage }
      after = res.data!.usage.pageInfo.endCursor
    }
    throw new Error('pagination did not end')
  }

  t.test('DAY × MODEL in America/New_York across DST equals an independent computation, across pages', async (t) => {
    const tz = 'America/New_York'
    const from = new Date('2025-10-15T04:00:00Z')
    const to = new Date('2025-11-14T05:00:00Z')
    const expected = new Map<string, { input: number; output: number; requests: number; cost: ExpectedCost }>()
    for (const b of rows) {
      if (b.start < from || b.start >= to) continue
      const k = `${localDate(b.start, tz)}|${b.model}`
      const e = expected.get(k) ?? { input: 0, output: 0, requests: 0, cost: zeroCost() }
      e.input += inputOf(b)
      e.output += outputOf(b)
      e.requests += b.requests ?? 0
      e.cost = addCost(e.cost, expectedCost(b, findRate(b, rates, new Date())))
      expected.set(k, e)
    }
    const { rows: got, last } = await allPages({ from, to, window: 'DAY', tz, groupBy: ['MODEL'] }, 7)
    t.equal(got.length, expected.size, 'every group exactly once')
    t.equal(new Set(got.map((r) => `${r.windowStart}|${r.model}`)).size, got.length, 'no row repeated across pages')
    for (const r of got) {
      const k = `${localDate(new Date(r.windowStart), tz)}|${r.model}`
      const e = expected.get(k)
      if (!t.ok(e, `expected group ${k}`)) continue
      t.equal(r.inputTokens, e!.input, `${k} input`)
      t.equal(r.outputTokens, e!.output, `${k} output`)
      t.equal(r.requests, e!.requests, `${k} requests`)
      t.ok(new Decimal(r.cost.total).equals(e!.cost.total), `${k} cost ${r.cost.total} = ${e!.cost.total.toString()}`)
      t.ok(new Decimal(r.cost.cachedInput).equals(e!.cost.cachedInput), `${k} cached input cost`)
      t.equal(r.cost.unpricedTokens, e!.cost.unpriced, `${k} unpriced`)
      t.equal(r.cost.complete, e!.cost.unpriced === 0)
      t.equal(localDate(new Date(r.windowStart), tz), localDate(new Date(new Date(r.windowEnd).getTime() - 1), tz), `${k} window is one local day`)
    }
    const dst = got.find((r) => localDate(new Date(r.windowStart), tz) === '2025-11-02')
    if (dst) t.equal(new Date(dst.windowEnd).getTime() - new Date(dst.windowStart).getTime(), 25 * 3_600_000, 'the DST day has 25 hours')
    const total = [...expected.values()].reduce((a, e) => addCost(a, e.cost), zeroCost())
    t.ok(new Decimal(last.totals.cost.total).equals(total.total), 'totals cover all pages')
    t.equal(last.totals.cost.unpricedTokens, total.unpriced)
    t.same(last.sources, ['anthropic_api', 'api', 'openai_api', 'openai_csv'])
  })

  t.test('TOTAL cost equals the exact sum of the per-row costs of any grouping', async (t) => {
    const from = new Date('2025-10-01T00:00:00Z')
    const to = new Date('2025-12-01T00:00:00Z')
    const total = await gql({ from, to, window: 'TOTAL', first: 10 })
    const rowsTotal = total.data!.usage.rows[0]!
    for (const groupBy of [['MODEL', 'SERVICE_TIER', 'BATCH'], ['MODALITY'], ['USER']]) {
      const { rows: parts } = await allPages({ from, to, window: 'HOUR', groupBy }, 1000)
      const sum = parts.reduce((a, r) => a.plus(r.cost.total), new Decimal(0))
      t.ok(sum.equals(rowsTotal.cost.total), `${groupBy.join('+')}: ${sum.toString()} = ${rowsTotal.cost.total}`)
      t.equal(parts.reduce((a, r) => a + r.cost.unpricedTokens, 0), rowsTotal.cost.unpricedTokens)
    }
    t.equal(rowsTotal.windowStart, from.toISOString())
    t.equal(rowsTotal.windowEnd, to.toISOString())
  })

  t.test('MODALITY rows hold one modality each with requests null', async (t) => {
    const res = await gql({ from: new Date('2025-10-01T00:00:00Z'), to: new Date('2025-12-01T00:00:00Z'), window: 'TOTAL', groupBy: ['MODALITY'] })
    const byModality = Object.fromEntries(res.data!.usage.rows.map((r) => [r.modality, r]))
    t.same(Object.keys(byModality).sort(), ['audio', 'text'])
    t.equal(byModality.audio!.requests, null)
    const audioIn = rows.reduce((a, b) => a + (b.inAudio ?? 0), 0)
    t.equal(byModality.audio!.inputTokens, audioIn)
  })

  t.test('each tenant counts only its own rows, and cannot use another tenant\'s private card', async (t) => {
    const range = { from: new Date('2025-10-01T00:00:00Z'), to: new Date('2025-12-01T00:00:00Z'), window: 'TOTAL' }
    await seedCard(app.testDb, `private-${tenantId}`, [], tenantId)
    const mine = await gql(range)
    t.equal(mine.data!.usage.totals.inputTokens, rows.reduce((a, b) => a + inputOf(b), 0))
    const withMyCard = await gql({ ...range }, other.key)
    t.equal(withMyCard.data!.usage.totals.inputTokens, dataset(8, 30).reduce((a, b) => a + inputOf(b), 0))
    const privateCard = await gql({ ...range, card: `private-${tenantId}` }, other.key)
    t.equal(privateCard.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT')
    t.match(privateCard.errors?.[0]?.message, /does not exist or is not visible/)
  })
})
