import type { AddressInfo } from 'node:net'
import OpenAI from 'openai'
import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// Array parameters come repeated, bracketed (`project_ids[]=`, the official SDK's form) or
// comma-separated. Every form was split at commas, so an id holding one ("a,b": any text is a valid
// dimension) could not be asked for: the SDK's `project_ids: ['a,b']` answered for projects "a" and
// "b" instead. Only the plain form is split now; a bracketed value is one id.

const DAY = 1_759_276_800 // 2025-10-01
const bucket = (project: string, input: number) => ({
  start_time: DAY, end_time: DAY + 3600, model: 'gpt-4o-mini', project_id: project, num_model_requests: 1, input_tokens: input, output_tokens: 0,
})
const range = `start_time=${DAY}&end_time=${DAY + 86_400}`
type Results = { data: { results: { project_id: string; input_tokens?: number }[] }[] }
const projects = (body: Results) => body.data.flatMap((b) => b.results.map((r) => r.project_id)).sort()

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app)
  const h = bearer(key)
  const posted = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: h, payload: { buckets: [bucket('a,b', 1), bucket('a', 10), bucket('b', 100)] } })
  t.equal(posted.statusCode, 200, posted.body)
  const get = async (url: string) => {
    const res = await app.inject({ method: 'GET', url, headers: h })
    t.equal(res.statusCode, 200, res.body.slice(0, 300))
    return res.json()
  }

  t.test('a bracketed value is one id, on the mirrors and reconciliation', async (t) => {
    for (const form of ['project_ids[]=a%2Cb', 'project_ids[0]=a%2Cb']) {
      t.same(projects(await get(`/v1/organization/usage/completions?${range}&group_by=project_id&${form}`) as Results), ['a,b'], form)
      t.same(projects(await get(`/v1/organization/costs?${range}&group_by=project_id&${form}`) as Results), ['a,b'], `costs ${form}`)
      const recon = await get(`/v1/reconciliation?from=${DAY}&to=${DAY + 86_400}&group_by=project&${form}`) as { data: { project_id: string }[] }
      t.same(recon.data.map((r) => r.project_id), ['a,b'], `reconciliation ${form}`)
    }
  })

  t.test('the plain form is still a comma-separated list', async (t) => {
    t.same(projects(await get(`/v1/organization/usage/completions?${range}&group_by=project_id&project_ids=a,b`) as Results), ['a', 'b'])
    const recon = await get(`/v1/reconciliation?from=${DAY}&to=${DAY + 86_400}&group_by=project&project_ids=a,b`) as { data: { project_id: string }[] }
    t.same(recon.data.map((r) => r.project_id), ['a', 'b'])
  })

  t.test('the official SDK asks for the project "a,b"', async (t) => {
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as AddressInfo
    const client = new OpenAI({ apiKey: 'unused', adminAPIKey: key, baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 })
    const page = await client.admin.organization.usage.completions({ start_time: DAY, end_time: DAY + 86_400, group_by: ['project_id'], project_ids: ['a,b'] })
    const results = page.data.flatMap((b) => b.results) as unknown as { project_id: string; input_tokens: number }[]
    t.same(results.map((r) => [r.project_id, r.input_tokens]), [['a,b', 1]])
  })
})
