import t from 'tap'
import type { AddressInfo } from 'node:net'
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

/**
 * Over a real socket, where Node's parser bounds the request line and headers (16 KiB by default).
 * `after` takes up to 32,768 characters because cursors over long ids are long (dimension values of
 * control characters and quotes are escaped twice: 12 kB here, 16 kB and more with longer ones), but a
 * request line over 16 KiB was refused by the parser with a 431 before the API saw it.
 */
t.test('every `after` the API accepts reaches it over a real socket', async (t) => {
  const app = await build(t, 'pglite')
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const h = bearer(key)
  const long = (n: number) => `${'\u0001"'.repeat(125)}_${String(n)}`
  const buckets = [1, 2].map((n) => ({
    start_time: DAY, end_time: DAY + HOUR, account_id: long(n), project_id: long(n), api_key_id: long(n), model: long(n), input_tokens: 1000, output_tokens: 0, num_model_requests: 1,
  }))
  const res = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: h, payload: { buckets } })
  t.equal(res.statusCode, 200, res.body)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const base = `http://127.0.0.1:${String(port)}/v1/reconciliation?from=2025-10-01T00:00:00Z&to=2025-10-02T00:00:00Z&group_by=account,project,api_key,model,line_item&first=1`
  const p1 = await fetch(base, { headers: h })
  t.equal(p1.status, 200)
  const first = (await p1.json()) as { data: { project_id: string }[]; next_page: string | null }
  t.ok(first.next_page && first.next_page.length > 8_192, `a long next_page (${String(first.next_page?.length)} characters)`)
  const p2 = await fetch(`${base}&after=${encodeURIComponent(first.next_page!)}`, { headers: h })
  t.equal(p2.status, 200)
  const second = (await p2.json()) as { data: { project_id: string }[] }
  t.same([...first.data, ...second.data].map((r) => r.project_id).sort(), [long(1), long(2)].sort(), 'each row once')

  const longest = await fetch(`${base}&after=${'A'.repeat(32_768)}`, { headers: h })
  t.equal(longest.status, 400, 'an `after` of 32,768 characters is judged by the API (not a 431 from the HTTP parser)')
  t.match(await longest.json(), { errors: [{ path: 'after' }] })
})
