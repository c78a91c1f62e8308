import { readFileSync } from 'node:fs'
import t from 'tap'
import { bearer, build, eachEngine, fixturePath, isProblem, tenantWithKey } from '../helpers.js'

// A usage report posted to POST /v1/billing/costs is not a bill: an Anthropic usage_report/messages
// page answered 200 with every result skipped (nothing stored, nothing said), an OpenAI usage page a
// 400 about missing amounts. Both are a 400 problem that points to the usage ingest endpoint, and
// nothing is written — also when one usage result sits among cost results.

const USAGE_ENDPOINT = /POST \/v1\/usage\/buckets/
const FIXTURES = [
  'anthropic/anthropic_usage_report_messages_example.json',
  'anthropic/anthropic_usage_report_messages_example_2026.json',
  'openai/openai_usage_completions_example.json',
  'openai/openai_usage_images_example.json',
]

const costPage = (results: unknown[]) => ({
  object: 'page',
  data: [{ object: 'bucket', start_time: 1759795200, end_time: 1759881600, results }],
  has_more: false,
  next_page: null,
})
const cost = { object: 'organization.costs.result', amount: { value: '1.25', currency: 'usd' }, line_item: 'gpt-4o, input', project_id: null }

interface Problem {
  detail: string
  errors: { index?: number; path: string; message: string }[]
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { tenantId, key } = await tenantWithKey(app, ['ingest'])
  const post = (payload: string) =>
    app.inject({ method: 'POST', url: '/v1/billing/costs', headers: { ...bearer(key), 'content-type': 'application/json' }, payload })
  const stored = async () => (await app.testDb.query<{ n: number }>('select count(*)::int as n from billed_costs where tenant_id = $1', [tenantId]))[0]!.n

  for (const file of FIXTURES)
    t.test(`the usage report ${file} is refused, pointing to the usage endpoint`, async (t) => {
      const path = fixturePath(t, file)
      if (!path) return
      const text = readFileSync(path, 'utf8')
      const results = (JSON.parse(text) as { data: { results: unknown[] }[] }).data.flatMap((b) => b.results)
      t.ok(results.length > 0)
      for (const body of [text, `[${text}]`]) {
        const res = await post(body)
        t.equal(res.statusCode, 400, res.body)
        t.ok(isProblem(res))
        const problem = res.json() as Problem
        t.match(problem.detail, USAGE_ENDPOINT)
        t.equal(problem.errors.length, results.length, 'each usage result is named')
        t.ok(problem.errors.every((e, i) => e.index === i && USAGE_ENDPOINT.test(e.message)), JSON.stringify(problem.errors))
      }
      t.equal(await stored(), 0, 'nothing written')
    })

  t.test('a usage result among cost results refuses the whole body', async (t) => {
    const usage = { object: 'organization.usage.completions.result', input_tokens: 10, output_tokens: 2, num_model_requests: 1 }
    const res = await post(JSON.stringify(costPage([cost, usage])))
    t.equal(res.statusCode, 400, res.body)
    const problem = res.json() as Problem
    t.match(problem.errors, [{ index: 1, path: 'data.0.results.1', message: USAGE_ENDPOINT }])
    t.equal(problem.errors.length, 1)
    t.equal(await stored(), 0)
  })

  t.test('a single usage result object (not a page) points to the usage endpoint too', async (t) => {
    const res = await post(JSON.stringify({ object: 'organization.usage.completions.result', input_tokens: 10, output_tokens: 2 }))
    t.equal(res.statusCode, 400, res.body)
    t.match((res.json() as Problem).detail, USAGE_ENDPOINT)
  })

  t.test('cost reports still store, and an Anthropic cost row without an amount is still skipped', async (t) => {
    t.match((await post(JSON.stringify(costPage([cost])))).json(), { received: 1, created: 1 })
    const anthropic = {
      data: [{ starting_at: '2025-08-01T00:00:00Z', ending_at: '2025-08-02T00:00:00Z', results: [{ currency: 'USD', amount: null, description: 'Claude Sonnet 4 Usage - Input Tokens', workspace_id: null }] }],
      has_more: false,
    }
    t.match((await post(JSON.stringify(anthropic))).json(), { received: 1, skipped: 1, created: 0 })
  })
})
