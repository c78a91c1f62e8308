import { Decimal } from 'decimal.js'
import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'
import { seedCard } from '../factories/usage.js'

/** Per-request events as an application reports them; prices below make costs easy to check by hand. */
const EVENTS = Array.from({ length: 12 }, (_, i) => ({
  id: `req_${i}`,
  timestamp: new Date(Date.parse('2025-10-07T08:00:00Z') + i * 37 * 60_000).toISOString(),
  model: i % 5 === 4 ? 'mystery-model' : i % 2 ? 'gpt-test-large' : 'gpt-test',
  session_id: i % 3 === 0 ? 's1' : 's2',
  endpoint: i % 2 ? '/chat' : '/embed',
  labels: { team: i % 4 < 2 ? 'search' : 'support' },
  input_tokens: 1000 * (i + 1),
  input_cached_tokens: 100 * i,
  output_tokens: 50 * (i + 3),
  ...(i === 1 ? { reported_cost: '0.0123' } : {}),
}))
type Ev = (typeof EVENTS)[number]

const PRICES: Record<string, { input: string; cached: string; output: string }> = {
  'gpt-test': { input: '1', cached: '0.1', output: '2' },
  'gpt-test-large': { input: '3', cached: '0.3', output: '12' },
}

function costOf(e: Ev): Decimal | null {
  const p = PRICES[e.model]
  if (!p) return null
  const cached = e.input_cached_tokens
  return new Decimal(e.input_tokens - cached).times(p.input).plus(new Decimal(cached).times(p.cached)).plus(new Decimal(e.output_tokens).times(p.output)).times('0.000001')
}

const USAGE = `query($card: String, $groupBy: [UsageDimension!], $labels: [String!], $filter: UsageFilter) {
  usage(from: "2025-10-07T00:00:00Z", to: "2025-10-08T00:00:00Z", window: TOTAL, groupBy: $groupBy, groupByLabels: $labels, filter: $filter, rateCard: $card) {
    rows { endpoint sessionId labels { key value } requests inputTokens outputTokens reportedCost cost { total complete unpricedTokens } }
    totals { requests inputTokens cost { total } reportedCost }
    sources } }`
const LIST = `query($card: String, $order: EventOrder, $first: Int, $filter: UsageFilter, $period: Period) {
  events(rateCard: $card, orderBy: $order, first: $first, filter: $filter, period: $period) {
    rows { id sessionId endpoint labels { key value } inputTokens cost { total complete } reportedCost }
    totals { requests inputTokens cost { total complete unpricedTokens } }
    pageInfo { hasNextPage endCursor } } }`

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app)
  const card = `events-${tenantId}`
  const from = new Date('2025-01-01T00:00:00Z')
  await seedCard(app.testDb, card, [
    { model: 'gpt-test', effectiveFrom: from, prices: { input: '1', cached_input: '0.1', output: '2' } },
    { model: 'gpt-test-large', effectiveFrom: from, prices: { input: '3', cached_input: '0.3', output: '12' } },
  ])
  const ingest = await app.inject({ method: 'POST', url: '/v1/usage/events', headers: bearer(key), payload: { events: EVENTS } })
  t.equal(ingest.statusCode, 200)
  const gql = async (query: string, variables: Record<string, unknown>) => {
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query, variables: { card, ...variables } } })
    const body = res.json() as { data: Record<string, any>; errors?: unknown }
    t.equal(body.errors, undefined, JSON.stringify(body.errors))
    return body.data
  }

  t.test('grouping by an event-only dimension selects source events and matches the raw events', async (t) => {
    const data = await gql(USAGE, { groupBy: ['ENDPOINT'] })
    t.same(data.usage.sources, ['events'])
    for (const endpoint of ['/chat', '/embed']) {
      const mine = EVENTS.filter((e) => e.endpoint === endpoint)
      const row = data.usage.rows.find((r: { endpoint: string }) => r.endpoint === endpoint)
      t.equal(row.requests, mine.length)
      t.equal(row.inputTokens, mine.reduce((a, e) => a + e.input_tokens, 0))
      const priced = mine.map(costOf).filter((c): c is Decimal => c !== null).reduce((a, c) => a.plus(c), new Decimal(0))
      t.ok(new Decimal(row.cost.total).equals(priced), `${endpoint}: ${row.cost.total} = ${priced.toString()}`)
      t.equal(row.cost.complete, mine.every((e) => costOf(e) !== null))
    }
    t.equal(data.usage.totals.reportedCost, '0.0123', 'reported cost kept beside the computed one')
  })

  t.test('groupByLabels groups by a label value', async (t) => {
    const data = await gql(USAGE, { labels: ['team'] })
    const byTeam = Object.fromEntries(data.usage.rows.map((r: { labels: { value: string }[]; inputTokens: number }) => [r.labels[0]!.value, r.inputTokens]))
    for (const team of ['search', 'support'])
      t.equal(byTeam[team], EVENTS.filter((e) => e.labels.team === team).reduce((a, e) => a + e.input_tokens, 0))
  })

  t.test('by default usage never adds events to provider reports', async (t) => {
    const data = await gql(USAGE, {})
    t.same(data.usage.sources, ['anthropic_api', 'api', 'openai_api', 'openai_csv'])
    t.equal(data.usage.totals.inputTokens, 0)
    const both = await gql(USAGE, { filter: { sources: ['events', 'api'] } })
    t.same(both.usage.sources, ['api', 'events'])
    t.equal(both.usage.totals.inputTokens, EVENTS.reduce((a, e) => a + e.input_tokens, 0))
  })

  t.test('events(orderBy: COST_DESC) lists the most expensive requests, unpriced last', async (t) => {
    const data = await gql(LIST, { order: 'COST_DESC', first: 12, period: 'ALL' })
    const ids = data.events.rows.map((r: { id: string }) => r.id)
    const expected = [...EVENTS]
      .sort((a, b) => {
        const ca = costOf(a)
        const cb = costOf(b)
        if (!ca || !cb) return Number(!ca) - Number(!cb) || b.timestamp.localeCompare(a.timestamp)
        return cb.comparedTo(ca) || b.timestamp.localeCompare(a.timestamp)
      })
      .map((e) => e.id)
    t.same(ids, expected)
    const top3 = await gql(LIST, { order: 'COST_DESC', first: 3, period: 'ALL' })
    t.same(top3.events.rows.map((r: { id: string }) => r.id), expected.slice(0, 3))
    t.ok(top3.events.pageInfo.hasNextPage)
    t.equal(top3.events.totals.requests, 12, 'totals cover every event, not the page')
    // first: 0 is the totals alone, with a cursor to the first event (it was null, beside hasNextPage).
    const none = await gql(LIST, { order: 'COST_DESC', first: 0, period: 'ALL' })
    t.same(none.events.rows, [])
    t.equal(none.events.totals.requests, 12)
    t.ok(none.events.pageInfo.hasNextPage)
    t.type(none.events.pageInfo.endCursor, 'string', 'first: 0 has a cursor to what follows')
  })

  t.test('a session is a filter: its totals equal the sum of its events', async (t) => {
    const data = await gql(LIST, { filter: { sessionIds: ['s1'] }, order: 'TIME_ASC', first: 100 })
    const s1 = EVENTS.filter((e) => e.session_id === 's1')
    t.same(data.events.rows.map((r: { id: string }) => r.id), s1.map((e) => e.id))
    t.equal(data.events.totals.requests, s1.length)
    t.equal(data.events.totals.inputTokens, s1.reduce((a, e) => a + e.input_tokens, 0))
    const cost = s1.map(costOf).filter((c): c is Decimal => c !== null).reduce((a, c) => a.plus(c), new Decimal(0))
    t.ok(new Decimal(data.events.totals.cost.total).equals(cost))
    t.equal(data.events.totals.cost.complete, s1.every((e) => costOf(e) !== null))
  })

  t.test('TODAY and MONTH periods exclude events from October 2025', async (t) => {
    for (const period of ['TODAY', 'MONTH']) {
      const data = await gql(LIST, { period, first: 10 })
      t.equal(data.events.totals.requests, 0, period)
    }
  })
})
