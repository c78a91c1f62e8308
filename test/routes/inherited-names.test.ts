import t from 'tap'
import { bearer, build, eachEngine, isProblem, tenantWithKey } from '../helpers.js'

// Names from outside looked up in the code's own tables (src/own-key.ts): a resource, a result `object`,
// a cost type or a group_by name equal to one of Object's members (`constructor`, `__proto__`,
// `toString`) used to find that member. A resource named `constructor` broke the costs mirror in the
// middle of its response; an OpenAI result of object `constructor` was stored as completions tokens.

const S = '2025-10-01T00:00:00Z'
const E = '2025-10-02T00:00:00Z'
const NAMES = ['constructor', '__proto__', 'tostring', 'valueof']

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app)
  const send = (method: 'GET' | 'POST', url: string, payload?: unknown) =>
    app.inject({ method, url, headers: { ...bearer(key), ...(payload ? { 'content-type': 'application/json' } : {}) }, ...(payload ? { payload: JSON.stringify(payload) } : {}) })

  const stored = await send('POST', '/v1/usage/buckets', {
    buckets: [],
    resources: NAMES.map((resource, i) => ({ start_time: S, end_time: E, model: 'm', resource, quantity: String(i + 1) })),
  })
  t.equal(stored.statusCode, 200, stored.body)

  await t.test('the mirrors and GraphQL list them as the resources they are', async (t) => {
    for (const q of ['group_by=line_item', 'group_by=line_item&group_by=project_id']) {
      const res = await send('GET', `/v1/organization/costs?start_time=1759276800&end_time=1759363200&${q}`)
      t.equal(res.statusCode, 200, q)
      const items = (res.json() as { data: { results: { line_item: string }[] }[] }).data.flatMap((b) => b.results.map((r) => r.line_item))
      for (const name of NAMES) t.ok(items.some((i) => i.includes(name)), `${q}: ${name} listed`)
    }
    const gql = await send('POST', '/graphql', {
      query: `{ usage(from: "${S}", to: "${E}", window: DAY, groupBy: [RESOURCE]) { rows { resource quantity cost { total unpricedQuantity { resource quantity } } } } }`,
    })
    const rows = (gql.json() as { data: { usage: { rows: { resource: string; quantity: string | null }[] } } }).data.usage.rows
    t.same(rows.filter((r) => r.resource !== 'tokens').map((r) => [r.resource, r.quantity]).sort(), NAMES.map((n, i) => [n, String(i + 1)]).sort())
  })

  await t.test('an OpenAI result whose object is such a name is an unknown object (400), not completions', async (t) => {
    for (const object of ['constructor', '__proto__', 'toString']) {
      const page = { object: 'page', data: [{ object: 'bucket', start_time: 1759363200, end_time: 1759449600, results: [{ object, input_tokens: 1 }] }], has_more: false, next_page: null }
      const res = await send('POST', '/v1/usage/buckets?account_id=org-a', page)
      t.equal(res.statusCode, 400, object)
      t.ok(isProblem(res))
      t.match(res.json(), { errors: [{ path: 'object', message: /unknown usage result object/ }] })
    }
  })

  await t.test('an Anthropic cost_type of such a name is not a ledger resource', async (t) => {
    const report = {
      data: [{ starting_at: S, ending_at: E, results: [{ amount: '100', currency: 'USD', cost_type: 'constructor', description: 'x', model: 'claude', service_tier: 'standard', token_type: null, workspace_id: null, context_window: null, inference_geo: null }] }],
      has_more: false,
      next_page: null,
    }
    t.equal((await send('POST', '/v1/billing/costs?account_id=org-b', report)).statusCode, 200)
    const rec = await send('POST', '/graphql', { query: `{ reconciliation(from: "${S}", to: "${E}", groupBy: [LINE_ITEM]) { rows { status model } } }` })
    t.equal(rec.statusCode, 200, rec.body)
    t.notOk(JSON.stringify(rec.json()).includes('"errors"'), rec.body)
  })
})
