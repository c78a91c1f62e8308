import { readFileSync } from 'node:fs'
import t from 'tap'
import { bearer, build, eachEngine, fixturePath, isProblem, tenantWithKey } from '../helpers.js'

// An Anthropic cost_report page has the usage report's envelope (`data` buckets with `starting_at`), so
// POST /v1/usage/buckets read it as a usage report: its results carry no token counts, and each one was
// stored as an empty bucket (200 "created": 1). It is billed money and belongs to POST /v1/billing/costs.

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BUDGET_EVALUATION_INTERVAL_MS: 'off' })
  const { key, tenantId } = await tenantWithKey(app)
  const post = (url: string, body: unknown) =>
    app.inject({ method: 'POST', url, headers: { ...bearer(key), 'content-type': 'application/json' }, payload: JSON.stringify(body) })
  const storedUsage = async () => {
    const [row] = await app.testDb.query<{ n: number }>(
      `select (select count(*) from usage_buckets where tenant_id = $1)::int + (select count(*) from usage_resources where tenant_id = $1)::int as n`,
      [tenantId],
    )
    return row!.n
  }

  await t.test('a cost_report page posted as usage is a 400 naming POST /v1/billing/costs; nothing is written', async (t) => {
    const path = fixturePath(t, 'anthropic/anthropic_cost_report_example.json')
    if (!path) return
    const page = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>
    for (const [what, body] of [['one page', page], ['an array of pages', [page]]] as const) {
      const res = await post('/v1/usage/buckets?account_id=org-a', body)
      t.equal(res.statusCode, 400, `${what}: ${res.body}`)
      t.ok(isProblem(res), 'problem+json')
      const problem = res.json() as { detail: string; errors: { path: string; message: string }[] }
      t.match(problem.detail, /POST \/v1\/billing\/costs/, `${what}: the detail says where it belongs`)
      t.match(problem.errors, [{ path: 'data', message: /cost_report/ }])
    }
    t.equal(await storedUsage(), 0, 'no usage bucket or resource stored')

    const billed = await post('/v1/billing/costs?account_id=org-a', page)
    t.equal(billed.statusCode, 200, billed.body)
    t.match(billed.json(), { received: 1, created: 1 }, 'where the detail points, the page is stored')
  })

  await t.test('usage reports are still read as usage', async (t) => {
    const path = fixturePath(t, 'anthropic/anthropic_usage_report_messages_example_2026.json')
    if (!path) return
    const res = await post('/v1/usage/buckets?account_id=org-b', JSON.parse(readFileSync(path, 'utf8')))
    t.equal(res.statusCode, 200, res.body)
    t.ok(await storedUsage() > 0)
  })
})
