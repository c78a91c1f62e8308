import { readFileSync } from 'node:fs'
import t from 'tap'
import { bearer, build, eachEngine, fixturePath, isProblem, tenantWithKey } from '../helpers.js'

// An OpenAI costs page (`GET /v1/organization/costs`, results `organization.costs.result`) posted to
// POST /v1/usage/buckets was refused only as "unknown usage result object" listing the twelve usage
// objects, and the dashboard cost export (CSV) as "the header names no usage column": neither said that
// the body is billed costs nor where it goes. Both now name POST /v1/billing/costs, as an Anthropic
// cost_report posted as usage already did (cost-report-as-usage.test.ts).

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BUDGET_EVALUATION_INTERVAL_MS: 'off' })
  const { key, tenantId } = await tenantWithKey(app)
  const post = (url: string, contentType: string, payload: string) =>
    app.inject({ method: 'POST', url, headers: { ...bearer(key), 'content-type': contentType }, payload })
  const storedUsage = async () => {
    const [row] = await app.testDb.query<{ n: number }>(
      `select (select count(*) from usage_buckets where tenant_id = $1)::int + (select count(*) from usage_resources where tenant_id = $1)::int as n`,
      [tenantId],
    )
    return row!.n
  }

  await t.test('an OpenAI costs page posted as usage is a 400 naming POST /v1/billing/costs; nothing is written', async (t) => {
    const path = fixturePath(t, 'openai/openai_costs_example.json')
    if (!path) return
    const page = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>
    for (const [what, body] of [['one page', page], ['an array of pages', [page]]] as const) {
      const res = await post('/v1/usage/buckets?account_id=org-a', 'application/json', JSON.stringify(body))
      t.equal(res.statusCode, 400, `${what}: ${res.body}`)
      t.ok(isProblem(res), 'problem+json')
      const problem = res.json() as { detail: string; errors: { path: string; message: string }[] }
      t.match(problem.detail, /costs page.*POST \/v1\/billing\/costs/, `${what}: the detail says what it is and where it belongs`)
      t.match(problem.errors, [{ path: 'data', message: /organization\.costs\.result/ }])
    }
    t.equal(await storedUsage(), 0, 'no usage bucket or resource stored')

    const billed = await post('/v1/billing/costs?account_id=org-a', 'application/json', JSON.stringify(page))
    t.equal(billed.statusCode, 200, billed.body)
    t.match(billed.json(), { received: 1, created: 1 }, 'where the detail points, the page is stored')
  })

  await t.test('an OpenAI cost export CSV posted as usage is a 400 naming POST /v1/billing/costs; nothing is written', async (t) => {
    const path = fixturePath(t, 'openai/openai_costs_export_2025-10.sample.csv')
    if (!path) return
    const csv = readFileSync(path, 'utf8')
    const res = await post('/v1/usage/buckets', 'text/csv', csv)
    t.equal(res.statusCode, 400, res.body)
    t.ok(isProblem(res), 'problem+json')
    const problem = res.json() as { detail: string; errors: { line: number; path: string; message: string }[] }
    t.match(problem.detail, /cost export.*POST \/v1\/billing\/costs/)
    t.match(problem.errors, [{ line: 1, path: 'amount_value', message: /POST \/v1\/billing\/costs/ }])
    t.equal(await storedUsage(), 0, 'no usage bucket stored')

    const billed = await post('/v1/billing/costs', 'text/csv', csv)
    t.equal(billed.statusCode, 200, billed.body)
  })

  await t.test('usage pages are still read as usage', async (t) => {
    const path = fixturePath(t, 'openai/openai_usage_completions_example.json')
    if (!path) return
    const res = await post('/v1/usage/buckets?account_id=org-b', 'application/json', readFileSync(path, 'utf8'))
    t.equal(res.statusCode, 200, res.body)
    t.ok((await storedUsage()) > 0)
  })
})
