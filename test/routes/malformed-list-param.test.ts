import t from 'tap'
import { bearer, build, eachEngine, isProblem, tenantWithKey } from '../helpers.js'

// The mirrors ignore parameters they do not know, as OpenAI's API does. A list parameter written in a bracket
// form none of the accepted ones is (`project_ids[-1]=a`, `project_ids[x]=a`, `project_ids[][]=a`) was taken for
// such an unknown parameter: the filter was dropped and the report answered for every project. It is a
// 400 naming it now; the accepted forms still filter.

const DAY = 1_759_276_800 // 2025-10-01
const bucket = (project: string, input: number) => ({
  start_time: DAY, end_time: DAY + 3600, model: 'gpt-4o-mini', project_id: project, num_model_requests: 1, input_tokens: input, output_tokens: 0,
})
const range = `start_time=${DAY}&end_time=${DAY + 86_400}&group_by=project_id`
const REPORTS = ['/v1/organization/usage/completions', '/v1/organization/costs', '/v1/organization/usage/embeddings']
type Results = { data: { results: { project_id: string }[] }[] }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app)
  const posted = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(key), payload: { buckets: [bucket('a', 1), bucket('b', 10)] } })
  t.equal(posted.statusCode, 200, posted.body)
  const get = (url: string) => app.inject({ method: 'GET', url, headers: bearer(key) })

  t.test('a list parameter in a malformed bracket form is a 400 naming it, on every report', async (t) => {
    for (const report of REPORTS)
      for (const form of ['project_ids[-1]=a', 'project_ids[x]=a', 'project_ids[][]=a', 'project_ids[0 ]=a']) {
        const res = await get(`${report}?${range}&${form}`)
        t.equal(res.statusCode, 400, `${report} ${form}`)
        t.ok(isProblem(res), `${report} ${form}`)
        const raw = decodeURIComponent(form.slice(0, form.indexOf('=')))
        t.match(res.json(), { errors: [{ path: `querystring.${raw}`, message: /is not a form of project_ids/ }] }, `${report} ${form}`)
      }
  })

  t.test('the 400 names the malformed key and every other bad parameter of the query', async (t) => {
    for (const report of REPORTS) {
      const res = await get(`${report}?${range}&project_ids[x]=a&limit=0&bucket_width=2d`)
      t.equal(res.statusCode, 400, report)
      const paths = (res.json() as { errors: { path: string }[] }).errors.map((e) => e.path).sort()
      t.same(paths, ['querystring.bucket_width', 'querystring.limit', 'querystring.project_ids[x]'], `${report}: ${res.body.slice(0, 400)}`)
    }
    // Where the rest of the query is valid, the malformed key alone is the answer (after validation, before the report runs).
    const alone = await get(`${REPORTS[0]}?${range}&models[x]=gpt-4o-mini`)
    t.equal(alone.statusCode, 400, alone.body.slice(0, 300))
    t.match(alone.json(), { errors: [{ path: 'querystring.models[x]', message: /is not a form of models/ }] })
    t.equal((alone.json() as { errors: unknown[] }).errors.length, 1)
  })

  t.test('the accepted forms still filter, and an unknown parameter is still ignored', async (t) => {
    for (const form of ['project_ids=a', 'project_ids[]=a', 'project_ids[0]=a', 'project_ids[]=a&whatever[x]=1']) {
      const res = await get(`${REPORTS[0]}?${range}&${form}`)
      t.equal(res.statusCode, 200, `${form}: ${res.body.slice(0, 200)}`)
      t.same((res.json() as Results).data.flatMap((b) => b.results.map((r) => r.project_id)), ['a'], form)
    }
  })
})
