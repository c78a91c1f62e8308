import { sql } from 'drizzle-orm'
import t from 'tap'
import { DAY_S, T0 } from '../factories/mirrors.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

/**
 * A CSV export goes "from start_time, or the `page` cursor, to end_time" (docs/rest-mirrors.md): a client that
 * read a JSON page asks for the rest as a file with that page's next_page. The token exports (completions,
 * embeddings, moderations) group by provider and account as well, and that grouping was bound into the
 * cursor's hash, so every JSON cursor was a 400 on `page` there — the costs and resource exports took theirs.
 */
const END = T0 + 20 * DAY_S

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { tenantId, key } = await tenantWithKey(app, ['read'])
  await app.testDb.query(sql`insert into usage_buckets (tenant_id, provider, account_id, start_time, end_time, project_id, model,
      service_tier, num_model_requests, input_tokens, output_tokens, in_text, out_text, source, usage_type)
    select ${tenantId}, 'openai', (array['org-a','org-b'])[1 + i % 2], to_timestamp(${T0}::int8 + i * 7200), to_timestamp(${T0}::int8 + i * 7200 + 3600),
      (array['p1','p2'])[1 + i % 2], 'gpt-4o-mini', 'default', 1, 100 + i, 5, 100 + i, 5, 'api', (array['completions','embeddings','moderations'])[1 + i % 3]
    from generate_series(0, ${(END - T0) / 7200 - 1}::int) i`)
  const get = (url: string, accept = 'application/json') => app.inject({ method: 'GET', url, headers: { ...bearer(key), accept } })

  for (const path of ['organization/usage/completions', 'organization/usage/embeddings', 'organization/usage/moderations', 'organization/usage/images', 'organization/costs']) {
    const query = `start_time=${T0}&end_time=${END}&group_by=project_id`
    const first = await get(`/v1/${path}?${query}`)
    t.equal(first.statusCode, 200, first.body)
    const { next_page: cursor, data } = first.json() as { next_page: string; data: { end_time: number }[] }
    const rest = await get(`/v1/${path}?${query}&page=${cursor}`, 'text/csv')
    t.equal(rest.statusCode, 200, `${path}: the JSON page's cursor starts the export (${rest.body.slice(0, 200)})`)
    // The same rows as an export asked for from the next bucket on.
    const from = await get(`/v1/${path}?start_time=${data.at(-1)!.end_time}&end_time=${END}&group_by=project_id`, 'text/csv')
    t.equal(rest.body, from.body, `${path}: the export from the cursor is the export from the next bucket`)
    if (!path.endsWith('images')) t.ok(rest.body.trimEnd().split('\n').length > 13, `${path}: rows of the last 13 days`)
  }
})
