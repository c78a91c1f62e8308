import { once } from 'node:events'
import { connect, type AddressInfo } from 'node:net'
import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey, waitFor } from '../helpers.js'

// A report streamed to a client that stops reading (a paused download) held its tenant's query slot for as
// long as the client kept the connection open: the server lifts the socket timeout while it handles a
// request, and the slot is given back when the report is read or its client leaves. On PostgreSQL the
// cursor behind it is closed at its idle limit (60 s), yet the slot stayed taken: with
// TENANT_QUERY_CONCURRENCY such readers every GraphQL `usage` of that tenant was a 429, for ever (seen on a
// real server: still refused 70 s later). A GraphQL answer is written whole, but one larger than the socket
// buffers stayed queued for a client that did not read it: 40 of 8.6 MB held 640 MB of heap. An answer
// whose client accepts nothing for RESPONSE_STALL_MS is now broken off. Both answers here have to outrun
// the socket buffers (~4 MB here): the export's 11,520 rows of ~1.2 kB, 8,000 of them in the GraphQL answer.
const DAY = Date.parse('2026-03-05T00:00:00Z') / 1000
const EXPORT = `/v1/organization/usage/completions?start_time=${DAY}&end_time=${DAY + 86_400}&bucket_width=1m&group_by=project_id`
const USAGE = '{ usage(from: "2026-03-05T00:00:00Z", to: "2026-03-06T00:00:00Z", window: DAY) { rows { inputTokens } } }'
// Eight pages of 1,000 one-minute rows (the page limit), each with its ~1 kB project id: ~8.6 MB.
const LARGE = `{ ${Array.from({ length: 8 }, (_, i) =>
  `a${i}: usage(from: "2026-03-05T0${i}:00:00Z", to: "2026-03-05T0${i + 2}:10:00Z", window: MINUTE, groupBy: [PROJECT], first: 1000) { rows { projectId inputTokens } }`).join(' ')} }`

function day() {
  const buckets = []
  for (let m = 0; m < 1440; m++)
    for (let p = 0; p < 8; p++)
      buckets.push({
        start_time: DAY + m * 60, end_time: DAY + m * 60 + 60, model: 'gpt-4o-mini', project_id: `${'😀'.repeat(250)}-${p}`,
        num_model_requests: 1, input_tokens: 1000 + m, output_tokens: 10,
      })
  return { buckets }
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { TENANT_QUERY_CONCURRENCY: '1', TENANT_QUERY_WAIT_MS: '10000', RESPONSE_STALL_MS: '1000' })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  const { key } = await tenantWithKey(app)
  const res = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(key), payload: day() })
  t.equal(res.statusCode, 200, res.body.slice(0, 300))
  const connections = () => new Promise<number>((r) => app.server.getConnections((_, n) => r(n)))
  const usage = async () => (await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query: USAGE } })).json() as { errors?: unknown }

  // Sends the request, reads the status line, then never reads again (and never closes).
  const stalled = async (request: string) => {
    const socket = connect(port, '127.0.0.1')
    t.teardown(() => socket.destroy())
    socket.on('error', () => {})
    await once(socket, 'connect')
    socket.write(request)
    const head = ((await once(socket, 'data')) as [Buffer])[0].toString('latin1')
    socket.pause()
    return head
  }

  const body = JSON.stringify({ query: LARGE })
  const gql = await stalled(`POST /graphql HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nAuthorization: Bearer ${key}\r\n\r\n${body}`)
  t.match(gql, /^HTTP\/1\.1 200/, 'the GraphQL answer starts')
  t.ok(Number(/content-length: (\d+)/i.exec(gql)?.[1]) > 8_000_000, `and is larger than the socket buffers: ${gql.slice(0, 400)}`)
  await waitFor('the server to close the unread GraphQL answer', async () => (await connections()) === 0, { timeoutMs: 30_000, everyMs: 100 })
  t.pass('the server closed the connection of the client that did not read its GraphQL answer')

  t.match(await stalled(`GET ${EXPORT} HTTP/1.1\r\nHost: x\r\nAccept: text/csv\r\nAuthorization: Bearer ${key}\r\n\r\n`), /^HTTP\/1\.1 200/, 'the export starts')
  await waitFor('the server to close the stalled export', async () => (await connections()) === 0, { timeoutMs: 30_000, everyMs: 100 })
  t.pass('the server closed the connection of the reader that stopped reading')
  const answered = await waitFor('a usage query of the same tenant to be answered', async () => {
    const body = await usage()
    return body.errors === undefined && body
  }, { timeoutMs: 30_000, everyMs: 100 })
  t.ok(answered, "the tenant's query slot is free again")
})
