import { sql } from 'drizzle-orm'
import t from 'tap'
import { bearer, build, holdLocks, tenantWithKey } from '../helpers.js'

/**
 * A listing's first page reads the whole range ahead (src/usage/report/report.ts, readAhead), and a whole
 * range can pass the statement timeout where the page alone does not: it reads more, and here it waits on a
 * lock that only the rest of the range meets (a later month's partition, held by another session). The page
 * was a 503 query-timeout although read alone it answered at once; a read-ahead that times out now leaves
 * the page to be read alone, as one over the rows bound does. PostgreSQL only (PGlite has no partitions
 * held apart, nor a statement timeout).
 */
void t.test('a first page whose read-ahead times out is read alone', { skip: process.env.TEST_DATABASE_URL ? false : 'PostgreSQL only' }, async (t) => {
  const app = await build(t, 'postgres', { STATEMENT_TIMEOUT_MS: '1500' })
  const { tenantId, key } = await tenantWithKey(app, ['read'])
  // Two consecutive months with partitions of their own (maintenance keeps the next few months).
  const parts = await app.testDb.query<{ name: string }>(sql`select inhrelid::regclass::text as name from pg_inherits
    where inhparent = 'usage_buckets'::regclass and inhrelid::regclass::text ~ '^usage_buckets_p[0-9]{6}$' order by 1`)
  const months = parts.map((p) => p.name.slice(-6))
  const i = months.findIndex((m, k) => k > 0 && Date.UTC(+m.slice(0, 4), +m.slice(4) - 1) === Date.UTC(+months[k - 1]!.slice(0, 4), +months[k - 1]!.slice(4)))
  t.ok(i > 0, `consecutive monthly partitions (${months.join(', ')})`)
  const turn = Date.UTC(+months[i]!.slice(0, 4), +months[i]!.slice(4) - 1) / 1000
  const start = turn - 3 * 86_400
  await app.testDb.query(sql`insert into usage_buckets (tenant_id, provider, start_time, end_time, project_id, model, api_key_id,
      service_tier, num_model_requests, input_tokens, output_tokens, in_text, out_text, source, usage_type)
    select ${tenantId}, 'openai', to_timestamp(${start}::int8 + h * 3600), to_timestamp(${start}::int8 + h * 3600 + 60),
      'p', 'gpt-4o-mini', 'k1', 'default', 1, 5, 1, 5, 1, 'api', 'completions' from generate_series(0, 143) h`)
  // Six days at 1h (144 buckets, within the widest page of 168): the first page of 24 is the first day.
  const url = `/v1/organization/usage/completions?start_time=${start}&end_time=${start + 6 * 86_400}&bucket_width=1h&group_by=api_key_id`
  const lock = await holdLocks(t, app.testDb, `lock table usage_buckets_p${months[i]} in access exclusive mode`)
  const res = await app.inject({ method: 'GET', url, headers: bearer(key) })
  t.equal(res.statusCode, 200, res.body.slice(0, 300))
  const page = res.json() as { data: { results: { input_tokens: number }[] }[]; has_more: boolean; next_page: string }
  t.equal(page.data.length, 24)
  t.ok(page.data.every((b) => b.results.length === 1 && b.results[0]!.input_tokens === 5), 'the first day, every hour')
  t.ok(page.has_more)
  t.notOk('n' in JSON.parse(Buffer.from(page.next_page.slice('page_'.length), 'base64url').toString()), 'no rows held for the later pages')
  await lock.release()
  // Unblocked, the later pages are read one by one.
  const second = await app.inject({ method: 'GET', url: `${url}&page=${page.next_page}`, headers: bearer(key) })
  t.equal(second.statusCode, 200, second.body.slice(0, 300))
})
