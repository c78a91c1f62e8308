import { readFile } from 'node:fs/promises'
import t from 'tap'
import { bearer, build, eachEngine, fixturePath, tenantWithKey } from '../helpers.js'

/**
 * A billed cost covers at most 31 days (a month's invoice), on every cost format: reconciliation looks that
 * far before a range's start for a bill that crosses it, so a 91-day bill was neither widened to nor read
 * there while its usage after the start was counted. Longer periods are a 400 naming the row; the
 * providers' own reports (days) still ingest.
 */

const DAY = 1759276800 // 2025-10-01T00:00:00Z
const D = 86400
const bucket = (start: number, end: number) => ({
  object: 'bucket',
  start_time: start,
  end_time: end,
  results: [{ object: 'organization.costs.result', amount: { value: '1.5', currency: 'usd' }, line_item: 'gpt-4o-mini, input', project_id: null }],
})
const page = (...data: unknown[]) => ({ object: 'page', data, has_more: false, next_page: null })

interface Problem {
  errors: { index?: number; line?: number; path: string; message: string }[]
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const h = bearer(key)
  const post = (payload: unknown, csv = false) =>
    app.inject({ method: 'POST', url: '/v1/billing/costs', headers: { ...h, ...(csv ? { 'content-type': 'text/csv' } : {}) }, payload: payload as string })
  const stored = async () => {
    const res = await app.inject({ url: `/v1/organization/costs?cost_source=billed&start_time=${DAY - 200 * D}&end_time=${DAY + 200 * D}&limit=180`, headers: h })
    t.equal(res.statusCode, 200, res.body)
    return (res.json() as { data: { results: unknown[] }[] }).data.reduce((n, b) => n + b.results.length, 0)
  }

  const json = await post(page(bucket(DAY, DAY + D), bucket(DAY - 60 * D, DAY + 31 * D)))
  t.equal(json.statusCode, 400, json.body)
  t.match(json.headers['content-type'], /application\/problem\+json/)
  const jsonErrors = (json.json() as Problem).errors
  t.same(jsonErrors.map((e) => [e.index, e.path]), [[1, 'data.1.end_time']], 'the 91-day bucket is named; the day beside it is not')
  t.match(jsonErrors[0]!.message, /at most 31 days.*91 days/)

  const anthropic = await post({
    data: [{ starting_at: '2025-10-01T00:00:00Z', ending_at: '2025-11-02T00:00:00Z', results: [{ amount: '150', currency: 'USD', description: 'x', model: 'claude-sonnet-4', token_type: 'uncached_input_tokens', cost_type: 'tokens', service_tier: 'standard', context_window: '0-200k', workspace_id: null }] }],
    has_more: false,
    next_page: null,
  })
  t.equal(anthropic.statusCode, 400, anthropic.body)
  t.same((anthropic.json() as Problem).errors.map((e) => [e.index, e.path]), [[0, 'data.0.ending_at']], 'a 32-day cost_report bucket is refused')

  const csv = await post(
    [
      'start_time,end_time,amount_value,amount_currency,line_item,project_id,organization_id',
      `${DAY},${DAY + D},0.5,usd,"gpt-4o-mini, input",,`,
      `${DAY - 300 * D},${DAY + 65 * D},0.5,usd,"gpt-4o-mini, input",,`,
      `${DAY + D},${DAY + 32 * D},0.5,usd,"gpt-4o-mini, input",,`,
    ].join('\n'),
    true,
  )
  t.equal(csv.statusCode, 400, csv.body)
  t.same((csv.json() as Problem).errors.map((e) => [e.line, e.path]), [[3, 'end_time']], 'CSV: the year-long line is named; 31 days exactly is accepted')
  t.equal(await stored(), 0, 'nothing was written')

  // The providers' own reports ingest as before.
  for (const [file, csvFile] of [['openai/openai_costs_example.json', false], ['anthropic/anthropic_cost_report_example.json', false], ['openai/openai_costs_export_2025-10.sample.csv', true]] as const) {
    const path = fixturePath(t, file)
    if (!path) continue
    const body = await readFile(path, 'utf8')
    const res = await post(csvFile ? body : JSON.parse(body), csvFile)
    t.equal(res.statusCode, 200, `${file}: ${res.body}`)
  }
  const month = await post(page(bucket(DAY, DAY + 31 * D)))
  t.equal(month.statusCode, 200, `a 31-day bill (October) is accepted: ${month.body}`)
})
