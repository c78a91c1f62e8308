import { once } from 'node:events'
import { connect, type AddressInfo } from 'node:net'
import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey, waitFor } from '../helpers.js'

// A listing's first page reads the whole range ahead (docs/rest-mirrors.md "Read ahead") and keeps the
// page's rows until its client has read them. The tenant's query slot was given back at the last row read,
// so a client that asked for such pages and never read them could hold as many as it asked for: 40 stalled
// pages of ~8,000 rows held 750 MB of heap on a real server (the same 40 read: 120 MB). The slot is now held
// until the page is sent, as a streamed page's is: TENANT_QUERY_CONCURRENCY such pages at most.
// The page must outrun the socket buffers (~4 MB here): 999 one-minute buckets of 8 rows of ~1.2 kB.
const DAY = Date.parse('2026-03-05T00:00:00Z') / 1000
const LISTING = `/v1/organization/usage/completions?start_time=${DAY}&end_time=${DAY + 1000 * 60}&bucket_width=1m&limit=999&group_by=project_id`

function buckets() {
  const all = []
  for (let m = 0; m < 1000; m++)
    for (let p = 0; p < 8; p++)
      all.push({
        start_time: DAY + m * 60, end_time: DAY + m * 60 + 60, model: 'gpt-4o-mini', project_id: `${'😀'.repeat(250)}-${p}`,
        num_model_requests: 1, input_tokens: 1000 + m, output_tokens: 10,
      })
  return { buckets: all }
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { TENANT_QUERY_CONCURRENCY: '1', TENANT_QUERY_WAIT_MS: '100' })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  const { key } = await tenantWithKey(app)
  const res = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(key), payload: buckets() })
  t.equal(res.statusCode, 200, res.body.slice(0, 300))

  // Asks for the listing's first page, reads its status line, then stops reading.
  const socket = connect(port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  socket.on('error', () => {})
  await once(socket, 'connect')
  socket.write(`GET ${LISTING} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\n\r\n`)
  const head = ((await once(socket, 'data')) as [Buffer])[0].toString('latin1')
  socket.pause()
  t.match(head, /^HTTP\/1\.1 200/, 'the first page starts')

  const again = await app.inject({ method: 'GET', url: LISTING, headers: bearer(key) })
  t.equal(again.statusCode, 429, 'while its client has not read it, the page holds the tenant\'s only slot')
  t.match(again.json(), { status: 429, detail: /already runs 1 expensive queries/ })

  socket.destroy()
  const served = await waitFor('the slot to come back once the reader leaves', async () => {
    const r = await app.inject({ method: 'GET', url: LISTING, headers: bearer(key) })
    return r.statusCode === 200 && r
  }, { timeoutMs: 30_000, everyMs: 100 })
  t.equal(served.json().data.length, 999, 'and the listing is served again')
})
