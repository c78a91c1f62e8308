import { Decimal } from 'decimal.js'
import t from 'tap'
import { seedBuckets, seedCard } from '../factories/usage.js'
import { admin, bearer, build, eachEngine, isProblem, tenantWithKey } from '../helpers.js'

/**
 * A rate card with one wrong price (gpt-5-mini input at $0.30 instead of the $0.25 OpenAI bills)
 * shows exactly that model's line item as MISMATCH, with the billed and the card's unit price; every
 * other item MATCHes. Also the REST face (JSON and CSV), paging and the argument checks.
 */

const D0 = Date.UTC(2025, 9, 7) / 1000
const DAY = 86_400
const at = (s: number) => new Date(s * 1000)
const MINI = 'gpt-5-mini-2025-08-07'
const GPT4O = 'gpt-4o-2024-08-06'
const PRICES: Record<string, Record<string, string>> = {
  [MINI]: { input: '0.25', cached_input: '0.025', output: '2' },
  [GPT4O]: { input: '2.5', cached_input: '1.25', output: '10' },
}
const USAGE = [
  { model: MINI, inText: 80_992, cachedText: 12_000, outText: 274_770 },
  { model: GPT4O, inText: 53_440, cachedText: 5_760, outText: 10_646 },
]
const ITEM = { inText: ['input', 'input'], cachedText: ['cached input', 'cached_input'], outText: ['output', 'output'] } as const

/** The bill OpenAI would send for USAGE: one costs page grouped by line item, amounts from the published prices. */
function bill() {
  const results = USAGE.flatMap((u) =>
    (Object.keys(ITEM) as (keyof typeof ITEM)[]).map((k) => ({
      object: 'organization.costs.result',
      amount: { value: Number(new Decimal(u[k]).times(PRICES[u.model]![ITEM[k][1]]!).div(1e6)), currency: 'usd' },
      line_item: `${u.model}, ${ITEM[k][0]}`,
      project_id: null,
      quantity: u[k],
      quantity_unit: 'tokens',
    })),
  )
  return { object: 'page', data: [{ object: 'bucket', start_time: D0, end_time: D0 + DAY, results }], has_more: false, next_page: null }
}

const QUERY = `query($card: String!, $first: Int, $after: String, $asOf: DateTime) {
  reconciliation(from: "2025-10-07T00:00:00Z", to: "2025-10-08T00:00:00Z", groupBy: [LINE_ITEM], rateCard: $card, first: $first, after: $after, pricingAsOf: $asOf) {
    rows { model lineItem computed billed status billedUnitPrice cardUnitPrice }
    pageInfo { hasNextPage endCursor }
  }
}`

interface Row {
  model: string
  lineItem: string
  computed: string
  billed: string
  status: string
  billedUnitPrice: string | null
  cardUnitPrice: string | null
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { tenantId, key } = await tenantWithKey(app, ['ingest', 'read'])
  await seedBuckets(app.testDb, tenantId, USAGE.map((u) => ({ ...u, start: at(D0), end: at(D0 + DAY), accountId: 'org-1', source: 'openai_api' })))
  const wrong = { ...PRICES, [MINI]: { ...PRICES[MINI]!, input: '0.3' } }
  const [wrongRateId] = await seedCard(app.testDb, 'wrong', Object.entries(wrong).map(([model, prices]) => ({ model, effectiveFrom: new Date(0), prices })), tenantId)
  await seedCard(app.testDb, 'right', Object.entries(PRICES).map(([model, prices]) => ({ model, effectiveFrom: new Date(0), prices })), tenantId)
  const posted = await app.inject({ method: 'POST', url: '/v1/billing/costs?account_id=org-1', headers: bearer(key), payload: bill() })
  t.equal(posted.statusCode, 200, posted.body)

  const gql = async (variables: Record<string, unknown>) => {
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query: QUERY, variables } })
    const body = res.json() as { data: { reconciliation: { rows: Row[]; pageInfo: { hasNextPage: boolean; endCursor: string } } }; errors?: unknown }
    t.equal(body.errors, undefined, JSON.stringify(body.errors))
    return body.data.reconciliation
  }

  await t.test('the right card matches every line item', async (t) => {
    const { rows } = await gql({ card: 'right' })
    t.equal(rows.length, 6)
    t.same(rows.filter((r) => r.status !== 'MATCH'), [])
  })

  await t.test('one wrong price: exactly that line item is MISMATCH, with both unit prices', async (t) => {
    const { rows } = await gql({ card: 'wrong' })
    t.same(rows.filter((r) => r.status !== 'MATCH'), [
      { model: MINI, lineItem: `${MINI}, input`, computed: '0.0242976', billed: '0.020248', status: 'MISMATCH', billedUnitPrice: '0.25', cardUnitPrice: '0.3' },
    ])
    t.ok(rows.filter((r) => r.status === 'MATCH').every((r) => r.billedUnitPrice === null && r.cardUnitPrice === null))
  })

  await t.test('pages: first/after walk every row once, in order', async (t) => {
    const all = (await gql({ card: 'wrong' })).rows
    const seen: Row[] = []
    let after: string | undefined
    for (;;) {
      const page = await gql({ card: 'wrong', first: 4, after })
      seen.push(...page.rows)
      if (!page.pageInfo.hasNextPage) break
      after = page.pageInfo.endCursor
    }
    t.same(seen, all)
    // first: 0 is the totals alone, with a cursor to the first row (it was null beside hasNextPage).
    const none = await gql({ card: 'wrong', first: 0 })
    t.same(none.rows, [])
    t.ok(none.pageInfo.hasNextPage)
    t.same((await gql({ card: 'wrong', first: 4, after: none.pageInfo.endCursor })).rows, all.slice(0, 4))
    const rest = await app.inject({ method: 'GET', url: '/v1/reconciliation?from=2025-10-07T00:00:00Z&to=2025-10-08T00:00:00Z&group_by=line_item&rate_card=wrong&first=0', headers: bearer(key) })
    const page = rest.json() as { data: unknown[]; has_more: boolean; next_page: string | null }
    t.same([page.data, page.has_more], [[], true])
    t.type(page.next_page, 'string', 'REST: has_more comes with a next_page')
  })

  await t.test('REST: JSON page in snake_case and the same rows as CSV', async (t) => {
    const url = '/v1/reconciliation?from=2025-10-07T00:00:00Z&to=2025-10-08T00:00:00Z&group_by=line_item&rate_card=wrong'
    const json = await app.inject({ method: 'GET', url, headers: bearer(key) })
    t.equal(json.statusCode, 200, json.body)
    const page = json.json() as { data: Record<string, unknown>[]; totals: Record<string, unknown>; has_more: boolean }
    t.match(page.data.find((r) => r.status === 'MISMATCH'), { line_item: `${MINI}, input`, billed_unit_price: '0.25', card_unit_price: '0.3' })
    t.equal(page.has_more, false)
    const csv = await app.inject({ method: 'GET', url, headers: { ...bearer(key), accept: 'text/csv' } })
    t.equal(csv.statusCode, 200)
    t.match(csv.headers['content-type'], /text\/csv/)
    const lines = csv.body.trim().split('\n')
    t.equal(lines[0], 'window_start,window_end,provider,account_id,project_id,api_key_id,model,line_item,computed,billed,difference,status,unpriced_tokens,billed_unit_price,card_unit_price,complete')
    t.equal(lines.length, 7)
    t.ok(lines.some((l) => l.includes(`"${MINI}, input"`) && l.includes('MISMATCH,0,0.25,0.3')))
  })

  await t.test('correcting the price clears the mismatch; pricingAsOf before the correction reproduces it', async (t) => {
    const beforeFix = new Date()
    await new Promise((r) => setTimeout(r, 5))
    const fix = await app.inject({
      method: 'POST',
      url: '/v1/rate-cards/wrong/rates',
      headers: { ...admin, 'x-tenant-id': tenantId },
      payload: { rates: [{ model: MINI, effective_from: '1970-01-01T00:00:00Z', supersedes: wrongRateId, prices: PRICES[MINI] }] },
    })
    t.equal(fix.statusCode, 201, fix.body)
    t.same((await gql({ card: 'wrong' })).rows.filter((r) => r.status !== 'MATCH'), [])
    const then = (await gql({ card: 'wrong', asOf: beforeFix.toISOString() })).rows.filter((r) => r.status !== 'MATCH')
    t.same(then.map((r) => [r.lineItem, r.billedUnitPrice, r.cardUnitPrice]), [[`${MINI}, input`, '0.25', '0.3']])
  })

  await t.test('bad arguments: 400 naming the parameter (REST), BAD_USER_INPUT (GraphQL)', async (t) => {
    const res = await app.inject({ method: 'GET', url: '/v1/reconciliation?from=2025-10-07T00:00:00Z&to=2025-10-08T00:00:00Z&window=hour&tolerance=x', headers: bearer(key) })
    t.equal(res.statusCode, 400)
    t.ok(isProblem(res))
    const tol = await app.inject({ method: 'GET', url: '/v1/reconciliation?from=2025-10-07T00:00:00Z&to=2025-10-08T00:00:00Z&tolerance=-1', headers: bearer(key) })
    t.match(tol.json(), { status: 400, errors: [{ path: 'querystring.tolerance' }] })
    const gq = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: bearer(key),
      payload: { query: '{ reconciliation(from: "2025-10-07T00:00:00Z", to: "2025-10-08T00:00:00Z", window: HOUR) { rows { status } } }' },
    })
    t.match(gq.json(), { errors: [{ extensions: { code: 'BAD_USER_INPUT' }, message: /UTC only/ }] })
  })
})
