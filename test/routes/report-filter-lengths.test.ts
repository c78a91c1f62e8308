import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// A dimension stores up to 256 characters (contract: "Lengths"), so every stored id can be filtered
// for. The usage and costs mirrors took ids of at most 200 characters, and GET /v1/reconciliation
// counted UTF-16 units (256 emoji are 512): filtering for such a stored project was a 400.

const DAY = 1_759_276_800 // 2025-10-01
const LONG = 'p'.repeat(256)
const EMOJI = '📈'.repeat(256)
const bucket = (project: string, input: number) => ({
  start_time: DAY, end_time: DAY + 3600, model: 'gpt-4o-mini', project_id: project, num_model_requests: 1, input_tokens: input, output_tokens: 0,
})
const range = `start_time=${DAY}&end_time=${DAY + 86_400}`

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app)
  const h = bearer(key)
  const posted = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: h, payload: { buckets: [bucket(LONG, 1000), bucket(EMOJI, 2000), bucket('short', 4000)] } })
  t.equal(posted.statusCode, 200, posted.body)

  for (const [name, id, input] of [['256 ASCII characters', LONG, 1000], ['256 emoji', EMOJI, 2000]] as const) {
    t.test(`a project id of ${name} filters every report`, async (t) => {
      const q = `project_ids[]=${encodeURIComponent(id)}`
      const usage = await app.inject({ method: 'GET', url: `/v1/organization/usage/completions?${range}&group_by=project_id&${q}`, headers: h })
      t.equal(usage.statusCode, 200, usage.body.slice(0, 300))
      const results = (usage.json() as { data: { results: { project_id: string; input_tokens: number }[] }[] }).data[0]?.results
      t.same(results?.map((r) => [r.project_id, r.input_tokens]), [[id, input]])
      const costs = await app.inject({ method: 'GET', url: `/v1/organization/costs?${range}&group_by=project_id&${q}`, headers: h })
      t.equal(costs.statusCode, 200, costs.body.slice(0, 300))
      t.same((costs.json() as { data: { results: { project_id: string }[] }[] }).data[0]?.results.map((r) => r.project_id), [id])
      const recon = await app.inject({
        method: 'GET', url: `/v1/reconciliation?from=${DAY}&to=${DAY + 86_400}&group_by=project&project_ids=${encodeURIComponent(id)}`, headers: h,
      })
      t.equal(recon.statusCode, 200, recon.body.slice(0, 300))
      t.same((recon.json() as { data: { project_id: string }[] }).data.map((r) => r.project_id), [id])
    })
  }

  t.test('257 characters are still a 400 naming the parameter', async (t) => {
    const res = await app.inject({ method: 'GET', url: `/v1/organization/usage/completions?${range}&project_ids=${'p'.repeat(257)}`, headers: h })
    t.equal(res.statusCode, 400)
    t.match(res.body, /project_ids/)
  })
})
