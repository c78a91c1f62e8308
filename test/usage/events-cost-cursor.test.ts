import t from 'tap'
import { admin, bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// events(orderBy: COST_DESC) pages after the last row's key, which holds its exact cost. The cursor
// decoder took costs of at most 60 digits on either side of the point, but a cost is quantity × unit
// price exactly (a quantity of up to 100 characters, a price of up to 40): an event resource priced to
// more places than that got a cursor its own next page refused as "not valid for this query".

const QUANTITY = `0.${'3'.repeat(60)}` // 60 decimal places
const PRICE = `0.${'7'.repeat(30)}` // 30 places: the cost has 90
const LIST = `query($after: String) { events(period: ALL, orderBy: COST_DESC, rateCard: "fine", first: 1, after: $after) {
  rows { id cost { total } } pageInfo { hasNextPage endCursor } } }`

interface Page { rows: { id: string; cost: { total: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app)
  const tenantAdmin = { ...admin, 'x-tenant-id': tenantId }
  t.equal((await app.inject({ method: 'PUT', url: '/v1/rate-cards/fine', headers: tenantAdmin, payload: { description: 'fine', currency: 'USD' } })).statusCode, 201)
  const rates = await app.inject({
    method: 'POST', url: '/v1/rate-cards/fine/rates', headers: tenantAdmin,
    payload: { rates: [{ model: '*', effective_from: '2025-01-01T00:00:00Z', prices: { input: '1', output: '1' }, unit_prices: [{ resource: 'widgets', price: PRICE }] }] },
  })
  t.equal(rates.statusCode, 201, rates.body)
  const event = (id: string, n: number) => ({
    id, timestamp: `2025-10-01T0${n}:00:00Z`, model: 'gpt-4o-mini', input_tokens: 0, output_tokens: 0, resources: [{ resource: 'widgets', quantity: `${n}${QUANTITY.slice(1)}` }],
  })
  const posted = await app.inject({ method: 'POST', url: '/v1/usage/events', headers: bearer(key), payload: { events: [event('a', 1), event('b', 2), event('c', 3)] } })
  t.same((posted.json() as { results: { status: string }[] }).results.map((r) => r.status), ['created', 'created', 'created'], posted.body)

  t.test('pages of one row under COST_DESC list every event once, most expensive first', async (t) => {
    const ids: string[] = []
    let after: string | null = null
    for (let n = 0; n < 5; n++) {
      const res = (await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query: LIST, variables: { after } } })).json() as { data: { events: Page } | null; errors?: unknown }
      if (!t.equal(res.errors, undefined, JSON.stringify(res.errors))) break
      const page = res.data!.events
      ids.push(...page.rows.map((r) => r.id))
      if (n === 0) t.ok(page.rows[0]!.cost.total.split('.')[1]!.length > 60, 'the cost has more than 60 places')
      if (!page.pageInfo.hasNextPage) break
      after = page.pageInfo.endCursor
    }
    t.same(ids, ['c', 'b', 'a'])
  })

  t.test('a forged key still holds a bounded decimal: 500 digits are taken, 2,000 are a 400', async (t) => {
    const first = (await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query: LIST } })).json() as { data: { events: Page } }
    const cursor = JSON.parse(Buffer.from(first.data.events.pageInfo.endCursor!, 'base64url').toString()) as { k: string }
    const forge = (cost: string) => {
      const k = JSON.parse(cursor.k) as unknown[]
      return Buffer.from(JSON.stringify({ ...cursor, k: JSON.stringify([k[0], cost, k[2], k[3]]) })).toString('base64url')
    }
    const send = async (cost: string) =>
      (await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query: LIST, variables: { after: forge(cost) } } })).json() as { data: { events: Page } | null; errors?: { extensions: { code: string } }[] }
    const taken = await send('9'.repeat(500))
    t.equal(taken.errors, undefined, JSON.stringify(taken.errors))
    t.same(taken.data!.events.rows.map((r) => r.id), ['c'], 'every event costs less')
    const refused = await send('9'.repeat(2000))
    t.equal(refused.errors?.[0]?.extensions.code, 'BAD_USER_INPUT')
  })
})
