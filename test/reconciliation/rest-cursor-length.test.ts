import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

/**
 * A REST reconciliation page's `next_page` is the GraphQL cursor, which since keyset paging holds the
 * last row's dimension values (each up to 256 characters). `after` takes at most 500 characters, so with
 * long values the API's own `next_page` was refused (400) and the rows after page 1 could not be read.
 */

const DAY = 1759276800 // 2025-10-01T00:00:00Z
const HOUR = 3600

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const h = bearer(key)
  const project = (n: number) => `proj_${String(n)}_${'x'.repeat(200)}`
  const model = `ft:gpt-4o-mini-2024-07-18:${'org'.repeat(40)}`
  const buckets = [1, 2].map((n) => ({ start_time: DAY, end_time: DAY + HOUR, project_id: project(n), model, input_tokens: 1000, output_tokens: 0, num_model_requests: 1 }))
  const res = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: h, payload: { buckets } })
  t.equal(res.statusCode, 200, res.body)
  const url = '/v1/reconciliation?from=2025-10-01T00:00:00Z&to=2025-10-02T00:00:00Z&group_by=project,model&first=1'
  const p1 = await app.inject({ method: 'GET', url, headers: h })
  t.equal(p1.statusCode, 200, p1.body)
  const first = p1.json() as { data: { project_id: string }[]; has_more: boolean; next_page: string | null }
  t.equal(first.has_more, true)
  const p2 = await app.inject({ method: 'GET', url: `${url}&after=${encodeURIComponent(first.next_page!)}`, headers: h })
  t.equal(p2.statusCode, 200, `next_page of ${first.next_page!.length} characters: ${p2.body.slice(0, 300)}`)
  t.same((p2.json() as { data: { project_id: string }[] }).data?.map((r) => r.project_id), [project(2)])
})
