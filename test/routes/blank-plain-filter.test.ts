import type { AddressInfo } from 'node:net'
import OpenAI from 'openai'
import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// The plain form of a list parameter drops blank pieces (`project_ids=a,` is "a"). A value with no piece
// at all (`project_ids=`, `project_ids=,`, `project_ids=%09`) was dropped with its filter: the request
// answered for every project. It is a 400 naming the parameter now, as the bracketed `project_ids[]=` was.

const DAY = 1_759_276_800 // 2025-10-01
const bucket = (project: string, input: number) => ({
  start_time: DAY, end_time: DAY + 3600, model: 'gpt-4o-mini', project_id: project, num_model_requests: 1, input_tokens: input, output_tokens: 0,
})
const range = `start_time=${DAY}&end_time=${DAY + 86_400}`
const REPORTS = [
  `/v1/organization/usage/completions?${range}&group_by=project_id`,
  `/v1/organization/costs?${range}&group_by=project_id`,
  `/v1/organization/usage/embeddings?${range}&group_by=project_id`,
  `/v1/reconciliation?from=${DAY}&to=${DAY + 86_400}&group_by=project`,
]
type Problem = { errors: { path: string; message: string }[] }
type Results = { data: { results: { project_id: string }[] }[] }
const projects = (body: Results) => body.data.flatMap((b) => b.results.map((r) => r.project_id)).sort()

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app)
  const h = bearer(key)
  const posted = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: h, payload: { buckets: [bucket('a', 1), bucket('b', 10)] } })
  t.equal(posted.statusCode, 200, posted.body)
  const get = (url: string) => app.inject({ method: 'GET', url, headers: h })

  t.test('a blank plain filter value is a 400 naming the parameter, on every report', async (t) => {
    for (const report of REPORTS) {
      for (const form of ['project_ids=', 'project_ids=,', 'project_ids=%09', 'project_ids=%20,%20', 'project_ids=a&project_ids=']) {
        const res = await get(`${report}&${form}`)
        t.equal(res.statusCode, 400, `${report} ${form}`)
        t.match(res.headers['content-type'], /application\/problem\+json/)
        t.ok((res.json() as Problem).errors.some((e) => /project_ids/.test(e.path)), `${report} ${form} names project_ids`)
        // In words, not zod's "Too small: expected string to have >=1 characters".
        t.same((res.json() as Problem).errors.filter((e) => /project_ids/.test(e.path)).map((e) => e.message), ['must not be empty'], `${report} ${form}`)
      }
    }
    const sources = await get(`${REPORTS[0]}&sources=`)
    t.equal(sources.statusCode, 400, sources.body)
    t.ok((sources.json() as Problem).errors.some((e) => /sources/.test(e.path)))
  })

  t.test('every problem is named, the blank filter beside another bad parameter', async (t) => {
    const res = await get(`${REPORTS[0]}&project_ids=&models=,&limit=0`)
    t.equal(res.statusCode, 400)
    const paths = (res.json() as Problem).errors.map((e) => e.path).join(' ')
    for (const p of ['project_ids', 'models', 'limit']) t.match(paths, p)
  })

  t.test('a list with some pieces still drops the blank ones', async (t) => {
    const res = await get(`${REPORTS[0]}&project_ids=a,`)
    t.equal(res.statusCode, 200, res.body)
    t.same(projects(res.json() as Results), ['a'])
  })

  t.test('a blank group_by is no grouping, as absent', async (t) => {
    const blank = await get(`/v1/organization/usage/completions?${range}&group_by=`)
    const absent = await get(`/v1/organization/usage/completions?${range}`)
    t.equal(blank.statusCode, 200, blank.body)
    t.same(blank.json(), absent.json())
  })

  t.test("the official SDK's lists still work: none, and one id", async (t) => {
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as AddressInfo
    const client = new OpenAI({ apiKey: 'unused', adminAPIKey: key, baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 })
    const ask = async (ids: string[]) => {
      const page = await client.admin.organization.usage.completions({ start_time: DAY, end_time: DAY + 86_400, group_by: ['project_id'], project_ids: ids })
      return page.data.flatMap((b) => b.results).map((r) => (r as unknown as { project_id: string }).project_id).sort()
    }
    t.same(await ask([]), ['a', 'b'])
    t.same(await ask(['b']), ['b'])
  })
})
